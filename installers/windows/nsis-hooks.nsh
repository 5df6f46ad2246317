; Hooks for Tauri's NSIS installer (bundle.windows.nsis.installerHooks).
;
; Uninstalling keeps the user's tasks. Tauri's uninstaller page has a
; "Delete the application data" box, unticked by default; it removes
; $APPDATA\${BUNDLEID} and $LOCALAPPDATA\${BUNDLEID} (settings, window
; state, logs, WebView2 cache). The vault lives elsewhere, in
; %APPDATA%\productivitypro (productivitypro-core's profile, shared with
; `pp`), so it is removed here only when the user ticked that same box,
; and never during an update (the updater runs the uninstaller with /UPDATE)
; or a silent uninstall, where nobody could have ticked it.
; A vault moved with PRODUCTIVITYPRO_DATA_DIR is never touched.

!macro NSIS_HOOK_POSTUNINSTALL
  ${If} $DeleteAppDataCheckboxState = 1
  ${AndIf} $UpdateMode <> 1
  ${AndIfNot} ${Silent}
    SetShellVarContext current
    RMDir /r "$APPDATA\productivitypro"
  ${EndIf}
!macroend
