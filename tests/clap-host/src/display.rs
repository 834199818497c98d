//! The X11 side of the editor tests: a private Xvfb server, the host's parent window the plugin
//! embeds its editor in, screenshots of it, and synthetic mouse clicks (XTest), also on another
//! program's windows (Wine's, for the Windows editor).
//!
//! Every editor test runs against its own virtual screen (started once per test process), so
//! nothing depends on the developer's desktop, a window manager or the screen's contents.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use x11rb::connection::Connection;
use x11rb::protocol::res::ConnectionExt as _;
use x11rb::protocol::xproto::{
    AtomEnum, ConfigureWindowAux, ConnectionExt as _, CreateWindowAux, EventMask, ImageFormat, MapState, WindowClass,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The private X server: started on first use, with `DISPLAY` pointing at it for the whole
/// process (the plugin's windowing library reads `DISPLAY`).
struct Xvfb {
    display: String,
    /// Held for the life of the process: the server runs with `-terminate`, so it exits as soon
    /// as its last client goes, that is, when this process exits, however it ends (statics are
    /// never dropped, so no `Drop` could stop it).
    _keep_alive: RustConnection,
    /// The server process, exiting on its own as above (and reaped when this process exits).
    _server: Child,
}

/// Starts the private Xvfb server once per process and returns its display name.
///
/// # Panics
///
/// If `Xvfb` is not installed or does not start (the message says what to install).
pub fn virtual_display() -> &'static str {
    static SERVER: OnceLock<Xvfb> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            // `-displayfd` makes the server pick a free display number and print it when it is
            // ready to take connections, so there is no race and no fixed number to collide on.
            let mut server = Command::new("Xvfb")
                .args(["-displayfd", "1", "-screen", "0", "1920x1200x24", "-nolisten", "tcp", "-terminate"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start Xvfb ({e}): install it (Debian: apt install xvfb) for the editor tests")
                });
            let mut line = String::new();
            BufReader::new(server.stdout.take().expect("Xvfb stdout"))
                .read_line(&mut line)
                .expect("Xvfb display number");
            assert!(line.trim().parse::<u32>().is_ok(), "Xvfb printed {line:?} instead of a display number");
            let display = format!(":{}", line.trim());
            let (keep_alive, _) = x11rb::connect(Some(&display))
                .unwrap_or_else(|e| panic!("cannot connect to the Xvfb server at {display}: {e}"));
            // Edition 2021: safe, but racy with threads reading the environment. Set before any
            // plugin or X client of this process reads it; the editor tests take a lock first.
            std::env::set_var("DISPLAY", &display);
            Xvfb { display, _keep_alive: keep_alive, _server: server }
        })
        .display
}

/// An RGB picture of a window: `pixels[(y * width + x) * 3 ..][..3]`.
#[derive(Clone)]
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Screenshot {
    /// The colour at `(x, y)`.
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Pixels in the rectangle `x0..x1, y0..y1` for which `pred` holds.
    pub fn count(&self, (x0, y0, x1, y1): (u32, u32, u32, u32), pred: impl Fn([u8; 3]) -> bool) -> usize {
        (y0..y1.min(self.height))
            .flat_map(|y| (x0..x1.min(self.width)).map(move |x| (x, y)))
            .filter(|&(x, y)| pred(self.at(x, y)))
            .count()
    }

    /// Standard deviation of the grey level: near 0 for a blank or single-colour window.
    pub fn grey_std(&self) -> f64 {
        let grey: Vec<f64> = self.pixels.chunks(3).map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0).collect();
        let mean = grey.iter().sum::<f64>() / grey.len() as f64;
        (grey.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / grey.len() as f64).sqrt()
    }

    /// Writes the picture as a PNG file (creating its folder).
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut encoder =
            png::Encoder::new(std::io::BufWriter::new(std::fs::File::create(path)?), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&self.pixels))
            .map_err(std::io::Error::other)
    }
}

/// A connection to an X display and its screen: screenshots of any window on it and synthetic
/// input (XTest). [`HostWindow`] works through one on the private Xvfb server; the Windows editor
/// test (`tests/editor.rs`) through one on the display Wine draws on, whose windows another
/// process made.
pub struct Screen {
    conn: RustConnection,
    root: u32,
}

/// One window on a [`Screen`], as [`Screen::windows`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenWindow {
    pub id: u32,
    /// Its window name (`WM_NAME`), if it has one.
    pub name: Option<String>,
    /// Where its top-left corner is, in root (screen) coordinates, and its size.
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// Whether it is mapped (its parents may still not be).
    pub mapped: bool,
}

impl Screen {
    /// Connects to `display` (`:N`).
    ///
    /// # Panics
    ///
    /// If the display cannot be reached.
    pub fn connect(display: &str) -> Self {
        let (conn, screen) =
            x11rb::connect(Some(display)).unwrap_or_else(|e| panic!("cannot connect to X display {display}: {e}"));
        let root = conn.setup().roots[screen].root;
        Self { conn, root }
    }

    /// Every window on the screen below the root, parents before their children.
    pub fn windows(&self) -> Vec<ScreenWindow> {
        let mut found = Vec::new();
        let mut pending = vec![self.root];
        while let Some(parent) = pending.pop() {
            let Some(tree) = self.conn.query_tree(parent).ok().and_then(|c| c.reply().ok()) else { continue };
            for &id in &tree.children {
                // A window may go away between the requests: it is then not listed.
                let Some(geometry) = self.conn.get_geometry(id).ok().and_then(|c| c.reply().ok()) else { continue };
                let Some(at) = self.conn.translate_coordinates(id, self.root, 0, 0).ok().and_then(|c| c.reply().ok())
                else {
                    continue;
                };
                let mapped = self
                    .conn
                    .get_window_attributes(id)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state != MapState::UNMAPPED);
                let name = self
                    .conn
                    .get_property(false, id, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 1024)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .filter(|p| !p.value.is_empty())
                    .map(|p| String::from_utf8_lossy(&p.value).into_owned());
                found.push(ScreenWindow {
                    id,
                    name,
                    x: at.dst_x as i32,
                    y: at.dst_y as i32,
                    width: geometry.width as u32,
                    height: geometry.height as u32,
                    mapped,
                });
            }
            pending.extend(tree.children.iter().rev());
        }
        found
    }

    /// What `window` holds now, its embedded windows included: for a window the server keeps
    /// off screen (redirected, as Wine's OpenGL child windows are), its own picture.
    pub fn screenshot(&self, window: u32) -> Screenshot {
        let geometry = self.conn.get_geometry(window).expect("get_geometry").reply().expect("geometry");
        let (width, height) = (geometry.width as u32, geometry.height as u32);
        let image = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, width as u16, height as u16, !0)
            .expect("get_image")
            .reply()
            .expect("image");
        // 24-bit depth comes as 32-bit little-endian BGRX.
        assert_eq!(image.depth, 24, "screenshots expect a 24-bit screen");
        let pixels = image.data.chunks(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
        Screenshot { width, height, pixels }
    }

    /// A left click at `(x, y)` in root coordinates, through the XTest extension (as if the user
    /// clicked: the event goes to whatever window is under the pointer).
    pub fn click(&self, x: i32, y: i32) {
        self.move_pointer(x, y);
        std::thread::sleep(std::time::Duration::from_millis(60));
        for kind in [x11rb::protocol::xproto::BUTTON_PRESS_EVENT, x11rb::protocol::xproto::BUTTON_RELEASE_EVENT] {
            self.conn.xtest_fake_input(kind, 1, x11rb::CURRENT_TIME, self.root, 0, 0, 0).expect("fake button");
            self.conn.sync().expect("X sync");
            std::thread::sleep(std::time::Duration::from_millis(40));
        }
    }

    /// Moves the pointer to `(x, y)` in root coordinates.
    pub fn move_pointer(&self, x: i32, y: i32) {
        self.conn
            .xtest_fake_input(
                x11rb::protocol::xproto::MOTION_NOTIFY_EVENT,
                0,
                x11rb::CURRENT_TIME,
                self.root,
                x as i16,
                y as i16,
                0,
            )
            .expect("fake motion");
        self.conn.sync().expect("X sync");
    }
}

/// The host's top-level window that plugin editors are embedded in.
pub struct HostWindow {
    screen: Screen,
    pub window: u32,
}

impl HostWindow {
    /// Creates and maps a `width` x `height` window at the screen's top-left corner.
    pub fn new(width: u32, height: u32) -> Self {
        let screen = Screen::connect(virtual_display());
        let conn = &screen.conn;
        let window = conn.generate_id().expect("X id");
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            screen.root,
            0,
            0,
            width as u16,
            height as u16,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().background_pixel(0x00ff00ff).event_mask(EventMask::STRUCTURE_NOTIFY),
        )
        .expect("create_window");
        conn.map_window(window).expect("map_window");
        conn.sync().expect("X sync");
        Self { screen, window }
    }

    /// Resizes the window (what a host does when it honours a plugin's resize request).
    pub fn resize(&self, width: u32, height: u32) {
        let conn = &self.screen.conn;
        conn.configure_window(self.window, &ConfigureWindowAux::new().width(width).height(height))
            .expect("configure_window");
        conn.sync().expect("X sync");
    }

    /// The window's current size.
    pub fn size(&self) -> (u32, u32) {
        let geometry = self.screen.conn.get_geometry(self.window).expect("get_geometry").reply().expect("geometry");
        (geometry.width as u32, geometry.height as u32)
    }

    /// The windows embedded in this one (the plugin's editor, while open).
    pub fn children(&self) -> Vec<u32> {
        self.screen.conn.query_tree(self.window).expect("query_tree").reply().expect("tree").children
    }

    /// The size of the first embedded window, if there is one.
    pub fn child_size(&self) -> Option<(u32, u32)> {
        let child = *self.children().first()?;
        let geometry = self.screen.conn.get_geometry(child).ok()?.reply().ok()?;
        Some((geometry.width as u32, geometry.height as u32))
    }

    /// What the window shows now, embedded windows included.
    pub fn screenshot(&self) -> Screenshot {
        self.screen.screenshot(self.window)
    }

    /// A left click at `(x, y)` in window coordinates (see [`Screen::click`]).
    pub fn click(&self, x: i32, y: i32) {
        // The window sits at the root's origin (no window manager moves it).
        self.screen.click(x, y);
    }

    /// Moves the pointer to `(x, y)` in window coordinates.
    pub fn move_pointer(&self, x: i32, y: i32) {
        self.screen.move_pointer(x, y);
    }

    /// X server resources (windows, pixmaps, GCs, ...) held by all clients but this one's own
    /// connection: what an editor that leaks on the server side leaves growing.
    pub fn server_resources(&self) -> u64 {
        let conn = &self.screen.conn;
        let clients = conn.res_query_clients().expect("X-Resource").reply().expect("clients").clients;
        let own = conn.setup().resource_id_base;
        clients
            .iter()
            .filter(|c| c.resource_base != own)
            // A client may disconnect between the two requests: it then holds nothing.
            .filter_map(|c| conn.res_query_client_resources(c.resource_base).ok()?.reply().ok())
            .map(|counts| counts.types.iter().map(|t| t.count as u64).sum::<u64>())
            .sum()
    }
}

impl Drop for HostWindow {
    fn drop(&mut self) {
        let _ = self.screen.conn.destroy_window(self.window);
        let _ = self.screen.conn.sync();
    }
}
