//! The plugin editor (egui through `nice-plug-egui`): five stem strips with fader, meter, Mute
//! and Solo, one-click scenes, and a status panel that says what is really running.
//!
//! The editor reads the parameters directly and changes them only through the host's
//! [`ParamSetter`] gestures; levels and status come from the atomics of the instance's
//! [`Meters`](super::monitor::Meters) and [`Status`](super::monitor::Status), so opening the editor changes nothing on the audio thread.

mod scenes;
pub mod theme;
mod widgets;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use egui::{Align, Color32, Layout, RichText, Stroke, Ui, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{create_egui_editor, EguiEditor, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use super::loader::LoadState;
use super::monitor::{ModelInfo, Snapshot};
use super::params::{ModeChoice, SingleParams, StemChoice};
use super::roles::Role;
use super::shared::Shared;
use sift_engine::{Mode, Scheduling};
use sift_inference::catalogue;

pub use scenes::Scene;

/// The smallest size the layout still works at.
const MIN_SIZE: (f32, f32) = (600.0, 360.0);

/// Where the model picker opens: its top-left corner, below the header.
const PICKER_OFFSET: Vec2 = Vec2::new(64.0, 44.0);

/// How fast a meter falls back, dB per second.
const METER_FALL_DB_PER_S: f32 = 24.0;

/// The width the header keeps free at its right for "Size" and its three zoom buttons.
const SIZE_CONTROLS_WIDTH: f32 = 215.0;

/// The editor of either plugin; `single` holds `Sift Single`'s own parameters (`None` for `Sift`).
pub fn create(shared: Arc<Shared>, single: Option<Arc<SingleParams>>, title: &str) -> Option<EguiEditor<SiftEditor>> {
    let settings = EguiNiceSettings::new().with_tile(title).with_resize_hint(
        nice_plug::editor::ResizeHint::RESIZABLE.with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)),
    );
    let editor_state = shared.params.editor_state.clone();
    let app = SiftEditor { shared, single, picker: None, gui: None, levels: [0.0; Role::COUNT], output_level: 0.0 };
    create_egui_editor(editor_state, RepaintNotifier::new(), settings, app)
}

/// The editor's per-window state.
pub struct SiftEditor {
    /// The instance's parameters, meters, status and model loader.
    shared: Arc<Shared>,
    single: Option<Arc<SingleParams>>,
    /// The model picker, while it is open.
    picker: Option<Picker>,
    gui: Option<GuiContext>,
    /// Displayed meter levels (linear), falling back at [`METER_FALL_DB_PER_S`].
    levels: [f32; Role::COUNT],
    output_level: f32,
}

impl NiceEguiApp for SiftEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        return_freed_memory();
        theme::install(&egui_ctx);
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        self.update_levels(ui);
        // One read of the instance's status a frame: the panels draw one consistent picture.
        let status = self.shared.status.snapshot();
        egui::Frame::new().fill(theme::BACKGROUND).inner_margin(10.0).show(ui, |ui| {
            ui.set_min_size(ui.available_size());
            self.header(ui, &status);
            ui.add_space(4.0);
            self.scene_bar(ui, &setter);
            ui.add_space(6.0);
            let side_width = (ui.available_width() * 0.36).clamp(236.0, 340.0);
            let height = ui.available_height();
            ui.horizontal_top(|ui| {
                let strips_width = ui.available_width() - side_width - ui.spacing().item_spacing.x;
                ui.allocate_ui_with_layout(Vec2::new(strips_width, height), Layout::left_to_right(Align::Min), |ui| {
                    self.strips(ui, &setter, &status.model, strips_width, height);
                });
                ui.allocate_ui_with_layout(Vec2::new(side_width, height), Layout::top_down(Align::Min), |ui| {
                    self.status_panel(ui, &setter, side_width, &status);
                });
            });
        });
        self.model_picker(ui.ctx());
        // Meters move while the editor is open.
        ui.ctx().request_repaint();
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

impl SiftEditor {
    /// Takes the audio thread's peaks and lets the displayed levels fall back.
    fn update_levels(&mut self, ui: &Ui) {
        let dt = ui.input(|i| i.unstable_dt).clamp(0.0, 0.1);
        let fall = 10f32.powf(-METER_FALL_DB_PER_S * dt / 20.0);
        let (peaks, output) = self.shared.meters.take();
        for (level, peak) in self.levels.iter_mut().zip(peaks) {
            *level = peak.max(*level * fall);
        }
        self.output_level = output.max(self.output_level * fall);
    }

    /// The model picker: installed models, or any `.onnx` file by path. Loading happens on a
    /// background thread ([`ModelLoader`](super::loader::ModelLoader)); the old model plays until the new one is in.
    fn model_picker(&mut self, ctx: &egui::Context) {
        let Some(picker) = self.picker.as_mut() else { return };
        let mut open = true;
        let shared = &self.shared;
        // Under the header, so the model's name (which also closes the picker) stays visible.
        let window = egui::Window::new("Model").open(&mut open).collapsible(false).resizable(false);
        window.anchor(egui::Align2::LEFT_TOP, PICKER_OFFSET).show(ctx, |ui| {
            ui.label(RichText::new("Installed models").color(theme::TEXT_DIM));
            if picker.installed.is_empty() {
                ui.label(
                    RichText::new("none found: put .onnx files in ~/.local/share/sift/models")
                        .small()
                        .color(theme::TEXT_DIM),
                );
            }
            for (name, path, licence) in &picker.installed {
                ui.horizontal(|ui| {
                    if ui.button(name).on_hover_text(path.display().to_string()).clicked() {
                        shared.request_model(path.clone());
                    }
                    if let Some(licence) = licence {
                        ui.add(egui::Label::new(RichText::new(licence).small().color(theme::TEXT_DIM)).wrap());
                    }
                });
            }
            ui.add_space(6.0);
            ui.label(RichText::new("Model file (.onnx)").color(theme::TEXT_DIM));
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut picker.path).desired_width(280.0));
                if ui.button("Load").clicked() && !picker.path.trim().is_empty() {
                    shared.request_model(PathBuf::from(picker.path.trim()));
                }
            });
            ui.add_space(4.0);
            let (text, colour) = match shared.loader.state() {
                LoadState::Idle => (String::new(), theme::TEXT_DIM),
                LoadState::Loading(path) => {
                    (format!("Loading {} … the current model keeps playing", file_name(&path)), theme::TEXT_DIM)
                }
                LoadState::Playing(path) => (format!("Playing {}", file_name(&path)), theme::TEXT),
                LoadState::WaitingForRestart(path) => (
                    format!("{} is loaded; it starts when the host restarts processing", file_name(&path)),
                    theme::WARNING,
                ),
                LoadState::Refused(why) => {
                    (format!("Not loaded: {why}. The current model keeps playing."), theme::WARNING)
                }
            };
            ui.add(egui::Label::new(RichText::new(text).color(colour)).wrap());
        });
        if !open {
            self.picker = None;
        }
    }

    fn header(&mut self, ui: &mut Ui, status: &Snapshot) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("SIFT").font(egui::FontId::new(22.0, theme::bold())).color(theme::ACCENT));
            ui.add_space(8.0);
            let info = &status.model;
            // The model's name is also the button that opens the model picker.
            let mut model_button = |ui: &mut Ui, text: RichText, hover: &str| {
                let button = egui::Button::new(text).frame(self.picker.is_some());
                if ui.add(button).on_hover_text(format!("{hover}\nClick to choose another model")).clicked() {
                    self.picker = if self.picker.is_some() { None } else { Some(Picker::new()) };
                }
            };
            if !status.active {
                ui.label(RichText::new("Not processing yet: the host has not started audio").color(theme::TEXT_DIM));
            } else if info.problem.is_some() {
                model_button(
                    ui,
                    RichText::new("No model: passing audio through").strong().color(theme::WARNING),
                    &info.detail,
                );
            } else {
                model_button(ui, RichText::new(&info.name).strong().color(theme::TEXT).underline(), &info.detail);
                let mut about = format!("{} stems: {}", info.stems.len(), info.stems.join(", "));
                if !info.licence.is_empty() {
                    about.push_str(&format!(" · {}", info.licence));
                }
                // Cut short (in full on hover) where it would run into the size buttons.
                let room = (ui.available_width() - SIZE_CONTROLS_WIDTH).max(0.0);
                ui.allocate_ui_with_layout(
                    Vec2::new(room, ui.available_height()),
                    Layout::left_to_right(Align::Center),
                    |ui| {
                        ui.add(egui::Label::new(RichText::new(&about).color(theme::TEXT_DIM)).truncate())
                            .on_hover_text(&about);
                    },
                );
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let zoom = ui.ctx().zoom_factor();
                for (label, factor) in [("200%", 2.0), ("150%", 1.5), ("100%", 1.0)] {
                    if widgets::choice_button(ui, label, (zoom - factor).abs() < 0.01, Vec2::new(0.0, 0.0)).clicked() {
                        ui.ctx().set_zoom_factor(factor);
                    }
                }
                ui.label(RichText::new("Size").color(theme::TEXT_DIM));
            });
        });
        // Why Sift is not separating, in full, on its own line.
        if let (Some(problem), true) = (&status.model.problem, status.active) {
            egui::Frame::new()
                .fill(theme::WARNING.gamma_multiply(0.18))
                .corner_radius(4.0)
                .inner_margin(egui::Margin::symmetric(8, 4))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.add(egui::Label::new(RichText::new(problem).color(theme::WARNING)).wrap())
                        .on_hover_text(&status.model.detail);
                });
        }
    }

    fn scene_bar(&self, ui: &mut Ui, setter: &ParamSetter) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Scenes").color(theme::TEXT_DIM));
            for scene in Scene::ALL {
                let current = scene.matches(&self.shared.params);
                if widgets::choice_button(ui, scene.name(), current, Vec2::new(92.0, 30.0))
                    .on_hover_text(scene.description())
                    .clicked()
                {
                    scene.apply(&self.shared.params, setter);
                }
            }
        });
    }

    fn strips(&self, ui: &mut Ui, setter: &ParamSetter, model: &ModelInfo, width: f32, height: f32) {
        let spacing = ui.spacing().item_spacing.x;
        let strip_width = ((width - spacing * (Role::COUNT - 1) as f32) / Role::COUNT as f32).max(60.0);
        let known = self.shared.status.active.load(Ordering::Acquire);
        let sources = model.models_by_role();
        for (role, source) in Role::ALL.into_iter().zip(sources) {
            let active = !known || self.shared.status.role_active(role);
            ui.allocate_ui_with_layout(Vec2::new(strip_width, height), Layout::top_down(Align::Center), |ui| {
                let source = source.filter(|_| active);
                self.strip(ui, setter, role, active, source, Vec2::new(strip_width, height));
            });
        }
    }

    /// One role's strip; `source` names the model its stems come from where the running model
    /// is composed of others.
    fn strip(&self, ui: &mut Ui, setter: &ParamSetter, role: Role, active: bool, source: Option<&str>, size: Vec2) {
        let (width, height) = (size.x, size.y);
        let params = &self.shared.params.roles[role as usize];
        let rect = ui.max_rect();
        let rect = egui::Rect::from_min_size(rect.min, Vec2::new(width, height));
        ui.painter().rect(
            rect,
            6.0,
            if active { theme::STRIP } else { theme::STRIP_INACTIVE },
            Stroke::new(1.0, theme::OUTLINE),
            egui::StrokeKind::Inside,
        );
        if !active {
            ui.multiply_opacity(0.45);
        }
        ui.add_space(6.0);
        ui.label(RichText::new(role.name()).font(egui::FontId::new(16.0, theme::bold())).color(if active {
            theme::role_colour(role)
        } else {
            theme::DIM
        }));
        // Same height either way, so every fader lines up.
        ui.allocate_ui_with_layout(Vec2::new(width, 16.0), Layout::top_down(Align::Center), |ui| {
            ui.set_min_height(16.0);
            if !active {
                ui.label(RichText::new("not in model").size(theme::CAPTION_SIZE).color(theme::TEXT_DIM));
            } else if let Some(source) = source {
                // One line, as "not in model" is: a longer name is cut short (in full on hover).
                let text = RichText::new(source).size(theme::CAPTION_SIZE).color(theme::TEXT_DIM);
                ui.add(egui::Label::new(text).truncate())
                    .on_hover_text(format!("{} comes from the model {source}", role.name()));
            }
        });
        let button_height = 34.0;
        let fader_height = (height - 87.0 - 2.0 * (button_height + 5.0)).max(60.0);
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            let inner = 12.0 + 4.0 + 36.0;
            ui.add_space(((width - inner) / 2.0).max(0.0));
            widgets::meter(ui, self.levels[role as usize], Vec2::new(12.0, fader_height))
                .on_hover_text(format!("{} level", role.name()));
            widgets::vertical_fader(ui, &params.gain, setter, Vec2::new(36.0, fader_height), active);
        });
        ui.label(RichText::new(params.gain.to_string()).color(theme::TEXT));
        let button = Vec2::new((width - 16.0).max(40.0), button_height);
        widgets::toggle(ui, &params.mute, setter, "MUTE", theme::MUTE, button);
        widgets::toggle(ui, &params.solo, setter, "SOLO", theme::SOLO, button);
    }

    fn status_panel(&self, ui: &mut Ui, setter: &ParamSetter, width: f32, status: &Snapshot) {
        egui::Frame::new()
            .fill(theme::STRIP)
            .corner_radius(6.0)
            .stroke(Stroke::new(1.0, theme::OUTLINE))
            .inner_margin(8.0)
            .show(ui, |ui| {
                let inner = width - 18.0;
                ui.set_width(inner);
                ui.set_max_width(inner);
                ui.set_min_height(ui.available_height());

                if let Some(single) = &self.single {
                    section(ui, "Output carries");
                    let current = single.stem.value();
                    ui.horizontal_wrapped(|ui| {
                        for choice in [
                            StemChoice::Remix,
                            StemChoice::Vocals,
                            StemChoice::Drums,
                            StemChoice::Bass,
                            StemChoice::Other,
                            StemChoice::Extra,
                        ] {
                            let name = StemChoice::variants()[choice.to_index()];
                            if widgets::choice_button(ui, name, current == choice, Vec2::new(0.0, 24.0)).clicked()
                                && current != choice
                            {
                                setter.begin_set_parameter(&single.stem);
                                setter.set_parameter(&single.stem, choice);
                                setter.end_set_parameter(&single.stem);
                            }
                        }
                    });
                    ui.add_space(4.0);
                }

                section(ui, "Mode");
                let running = status.running;
                let wanted = self.shared.params.mode.value();
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    ui.spacing_mut().button_padding.x = 4.0;
                    for (choice, mode) in [
                        (ModeChoice::Live, Mode::Live),
                        (ModeChoice::Balanced, Mode::Balanced),
                        (ModeChoice::Studio, Mode::Studio),
                    ] {
                        let ms = status.latency_ms[mode as usize];
                        let label = if ms > 0.0 {
                            format!("{}\n{:.0} ms", mode_name(choice), ms)
                        } else {
                            mode_name(choice).to_owned()
                        };
                        if widgets::choice_button(
                            ui,
                            label,
                            wanted == choice,
                            Vec2::new((inner - 8.0) / Mode::COUNT as f32 - 1.0, 36.0),
                        )
                        .clicked()
                            && wanted != choice
                        {
                            setter.begin_set_parameter(&self.shared.params.mode);
                            setter.set_parameter(&self.shared.params.mode, choice);
                            setter.end_set_parameter(&self.shared.params.mode);
                        }
                    }
                });
                if status.active && Mode::from(wanted) != running {
                    ui.label(
                        RichText::new(format!("Running {} until the host restarts processing", running.name()))
                            .small()
                            .color(theme::WARNING),
                    );
                }

                ui.add_space(4.0);
                section(ui, "Engine");
                let provider = &status.model.provider;
                // One line, so the panel's layout does not depend on the model: the provider,
                // then the worker's scheduling where it asked for real time (streaming models).
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Runs on").color(theme::TEXT_DIM));
                    ui.label(
                        RichText::new(if provider.is_empty() { "—" } else { provider }).strong().color(Color32::WHITE),
                    );
                    // The Device parameter asked for another provider: said on this line, the
                    // reason on hover (the panel keeps its layout).
                    if let Some(reason) = &status.model.provider_fallback {
                        ui.label(RichText::new("· fell back").small().color(theme::WARNING)).on_hover_text(reason);
                    }
                    match &status.model.worker {
                        Some(worker @ Scheduling::Refused { .. }) => {
                            ui.label(RichText::new("· normal priority").small().color(theme::WARNING))
                                .on_hover_text(worker.to_string());
                        }
                        Some(worker @ Scheduling::Realtime { .. }) => {
                            ui.label(RichText::new("· real-time").small().color(theme::TEXT_DIM))
                                .on_hover_text(worker.to_string());
                        }
                        Some(Scheduling::Normal) | None => {}
                    }
                });
                let load = status.load;
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Load").color(theme::TEXT_DIM));
                    let fraction = load.unwrap_or(0.0);
                    let colour = if fraction > 0.9 {
                        theme::METER_HIGH
                    } else if fraction > 0.6 {
                        theme::METER_MID
                    } else {
                        theme::METER_LOW
                    };
                    let passing_through = status.model.problem.is_some();
                    let text = match load {
                        _ if passing_through => "no model running".to_owned(),
                        Some(l) => format!("{:.0}% of deadline", l * 100.0),
                        None => "no model runs yet".to_owned(),
                    };
                    let fraction = if passing_through { 0.0 } else { fraction };
                    // An empty bar, not egui's minimum-width blob, when nothing has run yet.
                    let colour = if fraction > 0.0 { colour } else { theme::TRACK };
                    ui.add(
                        egui::ProgressBar::new(fraction.min(1.0))
                            .fill(colour)
                            .text(text)
                            .desired_width(ui.available_width().min(inner)),
                    )
                    .on_hover_text(format!(
                        "The last model run as a share of its time budget.\nPeak since start: {}",
                        status.peak_load.map_or("—".to_owned(), |p| format!("{:.0}%", p * 100.0))
                    ));
                });
                if let Some(warning) = &status.live_fallback {
                    ui.label(RichText::new(warning).small().color(theme::WARNING));
                }
                ui.horizontal(|ui| {
                    let misses = status.misses;
                    ui.label(RichText::new("Deadline misses").color(theme::TEXT_DIM));
                    ui.label(RichText::new(misses.to_string()).strong().color(if misses > 0 {
                        theme::WARNING
                    } else {
                        theme::TEXT
                    }))
                    .on_hover_text(
                        "Blocks in which the model was late. Sift separated those samples itself with the \
                         last masks the model gave (concealed); only a model silent for over 80 ms \
                         fades to the unseparated signal (dry on Other)",
                    );
                    if ui.small_button("Reset").clicked() {
                        self.shared.status.reset_misses();
                    }
                });
                if status.dry_samples > 0 {
                    let seconds = status.dry_samples as f64 / f64::from(status.sample_rate.max(1));
                    ui.label(
                        RichText::new(format!("The model stopped answering: {seconds:.1} s played unseparated"))
                            .small()
                            .color(theme::WARNING),
                    );
                }
                if let Some(trouble) = &status.model_trouble {
                    ui.add(egui::Label::new(RichText::new(trouble).small().color(theme::WARNING)).wrap());
                }

                ui.add_space(4.0);
                section(ui, "Output");
                ui.horizontal(|ui| {
                    ui.add(
                        ParamSlider::for_param(&self.shared.params.output_gain, setter)
                            .with_width((inner - 70.0).max(60.0)),
                    );
                });
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(Vec2::new(inner, 8.0), egui::Sense::hover());
                    let fraction = ((widgets::gain_to_db(self.output_level) - widgets::METER_FLOOR_DB)
                        / (widgets::METER_CEIL_DB - widgets::METER_FLOOR_DB))
                        .clamp(0.0, 1.0);
                    ui.painter().rect_filled(rect, 2.0, theme::TRACK);
                    let colour = if self.output_level >= 1.0 { theme::METER_HIGH } else { theme::METER_LOW };
                    ui.painter().rect_filled(
                        egui::Rect::from_min_size(rect.min, Vec2::new(rect.width() * fraction, rect.height())),
                        2.0,
                        colour,
                    );
                });
                ui.add_space(2.0);
                widgets::toggle(
                    ui,
                    &self.shared.params.bypass,
                    setter,
                    "BYPASS",
                    theme::WARNING,
                    Vec2::new(96.0, 26.0),
                );
            });
    }
}

/// Hands memory that earlier editor windows allocated and freed back to the system.
///
/// Each window lives on threads of its own (the window's, and the GL driver's), and glibc gives
/// each new thread a malloc arena of its own that keeps what it freed for reuse. Without this,
/// the host's resident memory climbs by tens of MiB over the first few dozen opens of the
/// editor (to ~200 MiB more with Mesa's software GL) although nothing is leaked. Trimming when
/// a window opens bounds that to one window's worth. Not for the audio thread: it takes every
/// arena's lock for a few milliseconds (Sift's audio thread never allocates, so never waits).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns free pages of the allocator's own heaps.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn mode_name(choice: ModeChoice) -> &'static str {
    match choice {
        ModeChoice::Live => "Live",
        ModeChoice::Balanced => "Balanced",
        ModeChoice::Studio => "Studio",
    }
}

/// The model picker's own state, while it is open.
struct Picker {
    /// What the path field holds.
    path: String,
    /// Installed models, listed when the picker opened, with the licence a model's sidecar
    /// declares (HTDemucs: personal and research use only).
    installed: Vec<(String, PathBuf, Option<String>)>,
}

impl Picker {
    fn new() -> Self {
        let installed = catalogue::installed(sift_inference::locations::binary_dir().as_deref())
            .into_iter()
            .map(|(name, path)| {
                let licence = catalogue::sidecar_licence(&path);
                (name, path, licence)
            })
            .collect();
        Self { path: String::new(), installed }
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn section(ui: &mut Ui, title: &str) {
    ui.label(RichText::new(title.to_uppercase()).small().strong().color(theme::TEXT_DIM));
}
