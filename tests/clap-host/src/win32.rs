//! The Windows side of the editor tests: the host's parent window (Win32) the plugin embeds its
//! editor in, and the message loop that runs them. Under Wine the picture cannot be read back
//! here (Wine 8.0 never copies an OpenGL child window into its parent): the Linux side of the
//! test reads it from Wine's X windows (`tests/editor.rs`).

use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{GetLastError, HWND, POINT, RECT};
use windows_sys::Win32::Graphics::Gdi::ClientToScreen;
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, GetClientRect, GetWindow, PeekMessageW,
    RegisterClassW, SetWindowPos, TranslateMessage, GW_CHILD, MSG, PM_REMOVE, SWP_NOACTIVATE, SWP_NOMOVE, SWP_NOZORDER,
    WNDCLASSW, WS_CLIPCHILDREN, WS_POPUP, WS_VISIBLE,
};

/// The host window's title (Wine's X window for it is named so).
const HOST_WINDOW_TITLE: &str = "Sift CLAP test host";

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// The window class of the host's windows, registered once per process.
fn class() -> *const u16 {
    static CLASS: OnceLock<Vec<u16>> = OnceLock::new();
    CLASS
        .get_or_init(|| {
            let name = wide("SiftClapTestHost");
            let class = WNDCLASSW {
                style: 0,
                lpfnWndProc: Some(DefWindowProcW),
                cbClsExtra: 0,
                cbWndExtra: 0,
                // SAFETY: the module handle of this executable.
                hInstance: unsafe { GetModuleHandleW(std::ptr::null()) },
                hIcon: std::ptr::null_mut(),
                hCursor: std::ptr::null_mut(),
                hbrBackground: std::ptr::null_mut(),
                lpszMenuName: std::ptr::null(),
                lpszClassName: name.as_ptr(),
            };
            // SAFETY: `class` is whole and `name` outlives the process (it lives in `CLASS`).
            assert_ne!(unsafe { RegisterClassW(&class) }, 0, "RegisterClassW failed");
            name
        })
        .as_ptr()
}

/// The host's top-level window that plugin editors are embedded in: a borderless window at the
/// screen's top-left corner, so its client area starts at the screen's origin.
pub struct HostWindow {
    pub window: HWND,
}

impl HostWindow {
    /// Creates and shows a `width` x `height` window at the screen's top-left corner.
    pub fn new(width: u32, height: u32) -> Self {
        let title = wide(HOST_WINDOW_TITLE);
        // SAFETY: the class is registered; the strings outlive the call.
        let window = unsafe {
            CreateWindowExW(
                0,
                class(),
                title.as_ptr(),
                WS_POPUP | WS_VISIBLE | WS_CLIPCHILDREN,
                0,
                0,
                width as i32,
                height as i32,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                GetModuleHandleW(std::ptr::null()),
                std::ptr::null(),
            )
        };
        if window.is_null() {
            // SAFETY: a plain call, right after the one that failed.
            let error = unsafe { GetLastError() };
            // Under Wine: the prefix's desktop belongs to the first process of the running Wine
            // server, and has no display if that one was started without `DISPLAY`.
            panic!("CreateWindowExW failed (error {error}): is the desktop on a display?");
        }
        let host = Self { window };
        host.pump_messages();
        host
    }

    /// Resizes the window (what a host does when it honours a plugin's resize request).
    pub fn resize(&self, width: u32, height: u32) {
        let flags = SWP_NOMOVE | SWP_NOZORDER | SWP_NOACTIVATE;
        // SAFETY: the window is alive (it is destroyed only on drop).
        let done = unsafe { SetWindowPos(self.window, std::ptr::null_mut(), 0, 0, width as i32, height as i32, flags) };
        assert_ne!(done, 0, "SetWindowPos failed");
    }

    /// The size of the window's client area.
    pub fn size(&self) -> (u32, u32) {
        client_size(self.window).expect("GetClientRect failed")
    }

    /// Where the window's client area starts on the screen (under Wine: the X root window's
    /// coordinates).
    pub fn origin(&self) -> (i32, i32) {
        let mut origin = POINT { x: 0, y: 0 };
        // SAFETY: the window is alive; `origin` is a valid POINT.
        assert_ne!(unsafe { ClientToScreen(self.window, &mut origin) }, 0, "ClientToScreen failed");
        (origin.x, origin.y)
    }

    /// The size of the first embedded window (the plugin's editor, while open), if there is one.
    pub fn child_size(&self) -> Option<(u32, u32)> {
        // SAFETY: the window is alive.
        let child = unsafe { GetWindow(self.window, GW_CHILD) };
        if child.is_null() {
            return None;
        }
        client_size(child)
    }

    /// Dispatches every window message waiting for this thread, the editor's included (its
    /// input, timers and redraws): a host's main loop between its other work.
    pub fn pump_messages(&self) {
        // SAFETY: `message` is a valid MSG, filled by PeekMessageW before it is used.
        unsafe {
            let mut message: MSG = std::mem::zeroed();
            while PeekMessageW(&mut message, std::ptr::null_mut(), 0, 0, PM_REMOVE) != 0 {
                TranslateMessage(&message);
                DispatchMessageW(&message);
            }
        }
    }
}

fn client_size(window: HWND) -> Option<(u32, u32)> {
    let mut rect = RECT { left: 0, top: 0, right: 0, bottom: 0 };
    // SAFETY: `rect` is a valid RECT; an invalid window makes the call fail, not crash.
    (unsafe { GetClientRect(window, &mut rect) } != 0)
        .then(|| ((rect.right - rect.left) as u32, (rect.bottom - rect.top) as u32))
}

impl Drop for HostWindow {
    fn drop(&mut self) {
        // SAFETY: the window is alive and not used again.
        unsafe { DestroyWindow(self.window) };
        self.pump_messages();
    }
}
