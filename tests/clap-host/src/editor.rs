//! The `clap.gui` side of [`TestPlugin`]: opening the plugin's editor embedded in a
//! [`HostWindow`], resizing, scaling and closing it, in the order a host calls them. The host
//! window is an X11 window on Linux ([`crate::display`]) and a Win32 one on Windows
//! ([`crate::win32`]).

use clack_extensions::gui::{GuiApiType, GuiConfiguration, GuiSize, Window};

#[cfg(target_os = "linux")]
use crate::display::HostWindow;
use crate::rules::HostCall;
#[cfg(windows)]
use crate::win32::HostWindow;
use crate::TestPlugin;

/// The windowing API the host embeds editors with.
#[cfg(target_os = "linux")]
const API: GuiApiType<'static> = GuiApiType::X11;
#[cfg(windows)]
const API: GuiApiType<'static> = GuiApiType::WIN32;

/// `parent` as CLAP's `clap_window`.
///
/// # Safety
///
/// The handle is valid only while `parent` lives.
#[cfg(target_os = "linux")]
unsafe fn clap_window(parent: &HostWindow) -> Window<'static, 'static> {
    Window::from_x11_handle(parent.window as _)
}
#[cfg(windows)]
unsafe fn clap_window(parent: &HostWindow) -> Window<'static, 'static> {
    // SAFETY: passed on to the caller.
    unsafe { Window::from_win32_hwnd(parent.window) }
}

/// What the plugin said when its editor opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EditorOpen {
    /// The size it asked for (`gui.get_size`), physical pixels.
    pub width: u32,
    pub height: u32,
    /// Whether it may be resized by the host (`gui.can_resize`).
    pub resizable: bool,
}

impl TestPlugin {
    fn gui(&self) -> clack_extensions::gui::PluginGui {
        self.ext().gui.expect("plugin has no gui extension")
    }

    /// Opens the editor embedded in `parent` (`create` → `set_scale` → `get_size` → the host
    /// window takes that size → `set_parent` → `show`), as a host does.
    pub fn open_editor(&mut self, parent: &HostWindow, scale: Option<f64>) -> Result<EditorOpen, String> {
        let gui = self.gui();
        let call = self
            .rules
            .call(HostCall::main_thread("clap_plugin_gui.create()/set_scale()/get_size()/set_parent()/show()"));
        let handle = self.instance.plugin_handle();
        let embedded = GuiConfiguration { api_type: API, is_floating: false };
        self.rules.set_gui(Some(false));
        gui.create(&handle, embedded).map_err(|e| {
            self.rules.set_gui(None);
            format!("gui.create({}, embedded) failed: {e:?}", API.0.to_string_lossy())
        })?;
        if let Some(scale) = scale {
            gui.set_scale(&handle, scale).map_err(|e| format!("gui.set_scale({scale}) failed: {e:?}"))?;
        }
        let GuiSize { width, height } = gui.get_size(&handle).ok_or("gui.get_size failed")?;
        let resizable = gui.can_resize(&handle);
        parent.resize(width, height);
        // SAFETY: the parent window exists (it lives in `parent`) until the editor is closed.
        unsafe { gui.set_parent(&handle, clap_window(parent)) }.map_err(|e| format!("gui.set_parent failed: {e:?}"))?;
        gui.show(&handle).map_err(|e| format!("gui.show failed: {e:?}"))?;
        drop(call);
        self.pump();
        Ok(EditorOpen { width, height, resizable })
    }

    /// Hides and destroys the editor.
    pub fn close_editor(&mut self) {
        let gui = self.gui();
        {
            let _call = self.rules.call(HostCall::main_thread("clap_plugin_gui.hide()/destroy()"));
            let handle = self.instance.plugin_handle();
            let _ = gui.hide(&handle);
            gui.destroy(&handle);
        }
        self.rules.set_gui(None);
        self.pump();
    }

    /// The editor's size now (`gui.get_size`), also while it is closed: what it will open at.
    pub fn editor_size(&mut self) -> Option<(u32, u32)> {
        let gui = self.gui();
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_gui.get_size()"));
        gui.get_size(&self.instance.plugin_handle()).map(|s| (s.width, s.height))
    }

    /// Resizes the open editor as a host does when the user drags its window's corner:
    /// `adjust_size` to the nearest size the editor accepts, then `set_size`. Returns the size.
    pub fn resize_editor(&mut self, parent: &HostWindow, width: u32, height: u32) -> Result<(u32, u32), String> {
        let gui = self.gui();
        let (width, height) = {
            let _call = self.rules.call(HostCall::main_thread("clap_plugin_gui.adjust_size()/set_size()"));
            let handle = self.instance.plugin_handle();
            let GuiSize { width, height } =
                gui.adjust_size(&handle, GuiSize { width, height }).unwrap_or(GuiSize { width, height });
            parent.resize(width, height);
            gui.set_size(&handle, GuiSize { width, height })
                .map_err(|e| format!("gui.set_size({width}, {height}) failed: {e:?}"))?;
            (width, height)
        };
        self.pump();
        Ok((width, height))
    }

    /// Honours the editor's pending `request_resize`, if any, as a host does: the host window
    /// takes the size. Returns the size.
    pub fn honour_resize_request(&mut self, parent: &HostWindow) -> Option<(u32, u32)> {
        self.pump();
        let (width, height) = self.shared(|s| s.resize_requested.lock().unwrap().take())?;
        parent.resize(width, height);
        Some((width, height))
    }
}
