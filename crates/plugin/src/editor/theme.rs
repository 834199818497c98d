//! Colours and fonts of the editor. The fonts are embedded (assets/fonts, see assets/README.md),
//! so the editor looks the same on every system.

use std::sync::Arc;

use egui::{self, Color32, FontData, FontDefinitions, FontFamily};

use crate::roles::Role;

pub const BACKGROUND: Color32 = Color32::from_rgb(0x16, 0x18, 0x1d);
pub const STRIP: Color32 = Color32::from_rgb(0x20, 0x23, 0x2a);
pub const STRIP_INACTIVE: Color32 = Color32::from_rgb(0x1a, 0x1b, 0x1f);
pub const TRACK: Color32 = Color32::from_rgb(0x0f, 0x10, 0x13);
pub const OUTLINE: Color32 = Color32::from_rgb(0x34, 0x38, 0x42);
pub const TEXT: Color32 = Color32::from_rgb(0xdc, 0xde, 0xe4);
pub const TEXT_DIM: Color32 = Color32::from_rgb(0x8a, 0x8f, 0x9c);
pub const TEXT_ON: Color32 = Color32::from_rgb(0x10, 0x10, 0x10);
/// The size of the caption under a strip's name ("not in model", or the model a composed
/// model's stem comes from): small enough for "spleeter-2stems" to fit a strip at 100 %.
pub const CAPTION_SIZE: f32 = 10.0;
pub const DIM: Color32 = Color32::from_rgb(0x5a, 0x5e, 0x68);
pub const ACCENT: Color32 = Color32::from_rgb(0x4f, 0xc3, 0xf7);
pub const ACCENT_DARK: Color32 = Color32::from_rgb(0x1d, 0x4e, 0x66);
pub const HANDLE: Color32 = Color32::from_rgb(0xb8, 0xbc, 0xc6);
pub const HANDLE_HOT: Color32 = Color32::from_rgb(0xf0, 0xf2, 0xf6);
pub const BUTTON: Color32 = Color32::from_rgb(0x2c, 0x30, 0x38);
pub const BUTTON_HOT: Color32 = Color32::from_rgb(0x3a, 0x3f, 0x4a);
pub const MUTE: Color32 = Color32::from_rgb(0xef, 0x53, 0x50);
pub const SOLO: Color32 = Color32::from_rgb(0xff, 0xca, 0x28);
pub const WARNING: Color32 = Color32::from_rgb(0xff, 0xa7, 0x26);
pub const METER_LOW: Color32 = Color32::from_rgb(0x66, 0xbb, 0x6a);
pub const METER_MID: Color32 = Color32::from_rgb(0xd4, 0xe1, 0x57);
pub const METER_HIGH: Color32 = Color32::from_rgb(0xef, 0x53, 0x50);

/// Inter Regular and SemiBold (fonts-inter, SIL OFL 1.1).
static INTER_REGULAR: &[u8] = include_bytes!("../../../../assets/fonts/Inter-Regular.otf");
static INTER_SEMIBOLD: &[u8] = include_bytes!("../../../../assets/fonts/Inter-SemiBold.otf");

/// The family of the bold face.
pub fn bold() -> FontFamily {
    FontFamily::Name("bold".into())
}

/// Each role's colour.
pub fn role_colour(role: Role) -> Color32 {
    match role {
        Role::Vocals => Color32::from_rgb(0xf4, 0x8f, 0xb1),
        Role::Drums => Color32::from_rgb(0xff, 0xb7, 0x4d),
        Role::Bass => Color32::from_rgb(0x81, 0xc7, 0x84),
        Role::Other => Color32::from_rgb(0x64, 0xb5, 0xf6),
        Role::Extra => Color32::from_rgb(0xb3, 0x9d, 0xdb),
    }
}

/// Installs the fonts and a dark look with text large enough to read on stage.
pub fn install(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert("inter".into(), Arc::new(FontData::from_static(INTER_REGULAR)));
    fonts.font_data.insert("inter-semibold".into(), Arc::new(FontData::from_static(INTER_SEMIBOLD)));
    // egui's own fonts are not built in (no `default_fonts`): Inter serves every family.
    fonts.families.insert(FontFamily::Proportional, vec!["inter".into()]);
    fonts.families.insert(FontFamily::Monospace, vec!["inter".into()]);
    fonts.families.insert(bold(), vec!["inter-semibold".into(), "inter".into()]);
    ctx.set_fonts(fonts);

    ctx.set_visuals(egui::Visuals::dark());
    ctx.all_styles_mut(|style| {
        use egui::{FontId, TextStyle};
        style.text_styles.insert(TextStyle::Body, FontId::new(14.0, FontFamily::Proportional));
        style.text_styles.insert(TextStyle::Button, FontId::new(14.0, FontFamily::Proportional));
        style.text_styles.insert(TextStyle::Small, FontId::new(11.5, FontFamily::Proportional));
        style.text_styles.insert(TextStyle::Monospace, FontId::new(13.0, FontFamily::Monospace));
        style.spacing.item_spacing = egui::vec2(6.0, 5.0);
        style.spacing.button_padding = egui::vec2(8.0, 4.0);
        style.visuals.panel_fill = BACKGROUND;
        style.visuals.override_text_color = Some(TEXT);
    });
}
