; ProductivityPro's NSIS installer for a cross-built exe (makensis on any
; OS): what scripts/rehearsal wraps the x86_64-pc-windows-gnu build in.
; Release builds on Windows runners use Tauri's own NSIS template with
; installers/windows/nsis-hooks.nsh; both keep the same promises:
;   - per-user install (no UAC prompt), Start menu entry, uninstaller
;     registered in "Apps & features";
;   - productivitypro:// registered to the app (HKCU\Software\Classes);
;   - uninstalling keeps the vault (%APPDATA%\productivitypro) unless the
;     user ticks "Delete my tasks vault" (unticked; never in a silent run).
; makensis -DVERSION=1.2.3 -DEXE=path\productivitypro.exe -DLICENSE=LICENSE
;   -DICON=icon.ico -DOUTFILE=out.exe [-DWEBVIEW2LOADER=WebView2Loader.dll]
;   [-DSIGN_CMD="installers/sign/authenticode"] productivitypro.nsi

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include MUI2.nsh
!include LogicLib.nsh

!ifndef VERSION | EXE | LICENSE | ICON | OUTFILE
  !error "define VERSION, EXE, LICENSE, ICON and OUTFILE (see the header)"
!endif

!define PRODUCT "ProductivityPro"
!define SCHEME "productivitypro"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${PRODUCT}"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "Software\${PRODUCT}" "InstallDir"
Icon "${ICON}"
UninstallIcon "${ICON}"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "LegalCopyright" "ProductivityPro contributors"

; Sign the uninstaller as it is written and the installer once built, as
; Tauri's signCommand does (NSIS >= 3.08).
!ifdef SIGN_CMD
  !uninstfinalize '${SIGN_CMD} "%1"' = 0
  !finalize '${SIGN_CMD} "%1"' = 0
!endif

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\productivitypro.exe"
!insertmacro MUI_PAGE_LICENSE "${LICENSE}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!define MUI_COMPONENTSPAGE_TEXT_TOP "Your tasks vault is kept unless you tick it below; a later install opens it again."
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Install"
  SetOutPath "$INSTDIR"
  File "/oname=productivitypro.exe" "${EXE}"
!ifdef WEBVIEW2LOADER
  File "/oname=WebView2Loader.dll" "${WEBVIEW2LOADER}"
!endif
  File "/oname=LICENSE.txt" "${LICENSE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\productivitypro.exe"

  WriteRegStr HKCU "Software\${PRODUCT}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTKEY}" "Publisher" "ProductivityPro contributors"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\productivitypro.exe"
  WriteRegStr HKCU "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoRepair" 1

  ; productivitypro://add?title=… opens the app with the link as its only argument.
  WriteRegStr HKCU "Software\Classes\${SCHEME}" "" "URL:${PRODUCT} link"
  WriteRegStr HKCU "Software\Classes\${SCHEME}" "URL Protocol" ""
  WriteRegStr HKCU "Software\Classes\${SCHEME}\DefaultIcon" "" "$INSTDIR\productivitypro.exe,0"
  WriteRegStr HKCU "Software\Classes\${SCHEME}\shell\open\command" "" '"$INSTDIR\productivitypro.exe" "%1"'
SectionEnd

Section "-un.Program"
  Delete "$INSTDIR\productivitypro.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  DeleteRegKey HKCU "Software\Classes\${SCHEME}"
  DeleteRegKey HKCU "${UNINSTKEY}"
  DeleteRegKey HKCU "Software\${PRODUCT}"
SectionEnd

; Unticked (/o): the vault stays unless the user asks. Silent uninstalls
; (/S, used by updates and scripts) never remove it.
Section /o "un.Delete my tasks vault (cannot be undone)" un.Vault
  ${IfNot} ${Silent}
    SetShellVarContext current
    RMDir /r "$APPDATA\productivitypro"
  ${EndIf}
SectionEnd
