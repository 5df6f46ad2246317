//! A bare Tauri window: one static page, no plugins, no state. The
//! desktop benchmark (`bench/desktop`) starts it beside the app, built the
//! same way, as the floor for start-up time and memory.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::io::Write;

/// The page's first frame is on screen: the same mark line the app prints
/// (`productivitypro_app::commands::app::bench_first_paint`).
#[tauri::command]
fn bench_first_paint() {
    let _ = writeln!(
        std::io::stdout().lock(),
        "productivitypro-bench-mark first-paint"
    );
}

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![bench_first_paint])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("hello-window: {e}");
            std::process::exit(1);
        });
}
