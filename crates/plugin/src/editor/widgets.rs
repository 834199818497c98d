//! The editor's own widgets: a vertical gain fader, a level meter and big toggle buttons. Every
//! parameter change goes through the host's begin/set/end gesture, so hosts record it.

use egui::{Align2, Color32, FontId, Rect, Response, Sense, Stroke, StrokeKind, Ui, Vec2};
use nice_plug::prelude::{BoolParam, Param, ParamSetter};

use super::theme;

/// Lowest level the meters show, dB.
pub const METER_FLOOR_DB: f32 = -60.0;
/// Highest level the meters show, dB.
pub const METER_CEIL_DB: f32 = 6.0;

/// A vertical fader for any parameter, positioned by its normalized value (so a gain parameter's
/// skew is what the fader follows). Drag to set, double-click for the default.
pub fn vertical_fader<P: Param>(
    ui: &mut Ui,
    param: &P,
    setter: &ParamSetter,
    size: Vec2,
    enabled_look: bool,
) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    let track = Rect::from_center_size(rect.center(), Vec2::new(8.0, rect.height() - 16.0));
    let to_normalized = |y: f32| (1.0 - (y - track.top()) / track.height()).clamp(0.0, 1.0);

    if response.double_clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, param.default_plain_value());
        setter.end_set_parameter(param);
    } else {
        if response.drag_started() {
            setter.begin_set_parameter(param);
        }
        if response.dragged() {
            if let Some(pos) = response.interact_pointer_pos() {
                let normalized = to_normalized(pos.y);
                if normalized != param.unmodulated_normalized_value() {
                    setter.set_parameter_normalized(param, normalized);
                }
            }
        }
        if response.drag_stopped() {
            setter.end_set_parameter(param);
        }
    }
    // Mouse wheel: small steps, each a complete gesture.
    if response.hovered() {
        let scroll = ui.input(|i| i.smooth_scroll_delta.y);
        if scroll != 0.0 {
            let normalized = (param.unmodulated_normalized_value() + scroll * 0.002).clamp(0.0, 1.0);
            setter.begin_set_parameter(param);
            setter.set_parameter_normalized(param, normalized);
            setter.end_set_parameter(param);
        }
    }

    let painter = ui.painter_at(rect.expand(2.0));
    let accent = if enabled_look { theme::ACCENT } else { theme::DIM };
    painter.rect_filled(track, 4.0, theme::TRACK);
    let normalized = param.unmodulated_normalized_value();
    let y = track.bottom() - normalized * track.height();
    painter.rect_filled(
        Rect::from_min_max(egui::pos2(track.left(), y), track.right_bottom()),
        4.0,
        accent.gamma_multiply(0.6),
    );
    // Unity (default) mark.
    let unity_y = track.bottom() - param.default_normalized_value() * track.height();
    painter.line_segment(
        [egui::pos2(rect.left() + 4.0, unity_y), egui::pos2(rect.right() - 4.0, unity_y)],
        Stroke::new(1.0, theme::TEXT_DIM),
    );
    let handle =
        Rect::from_center_size(egui::pos2(rect.center().x, y), Vec2::new((rect.width() - 4.0).min(44.0), 14.0));
    let handle_fill = if response.dragged() || response.hovered() { theme::HANDLE_HOT } else { theme::HANDLE };
    painter.rect_filled(handle, 3.0, handle_fill);
    painter.line_segment([handle.left_center(), handle.right_center()], Stroke::new(2.0, accent));
    response.on_hover_text(format!("{}: {}\nDrag to change, double-click for 0 dB", param.name(), param))
}

/// A level meter: `level` is linear, drawn on a dB scale from [`METER_FLOOR_DB`] to
/// [`METER_CEIL_DB`], green, yellow above −12 dB, red above 0 dB.
pub fn meter(ui: &mut Ui, level: f32, size: Vec2) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, theme::TRACK);
    let fraction = db_fraction(gain_to_db(level));
    if fraction > 0.0 {
        let top = rect.bottom() - fraction * rect.height();
        // Three zones, each drawn up to the level.
        for (from_db, to_db, colour) in [
            (METER_FLOOR_DB, -12.0, theme::METER_LOW),
            (-12.0, 0.0, theme::METER_MID),
            (0.0, METER_CEIL_DB, theme::METER_HIGH),
        ] {
            let zone_bottom = rect.bottom() - db_fraction(from_db) * rect.height();
            let zone_top = (rect.bottom() - db_fraction(to_db) * rect.height()).max(top);
            if zone_top < zone_bottom {
                painter.rect_filled(Rect::from_x_y_ranges(rect.x_range(), zone_top..=zone_bottom), 0.0, colour);
            }
        }
    }
    let zero = rect.bottom() - db_fraction(0.0) * rect.height();
    painter.line_segment(
        [egui::pos2(rect.left(), zero), egui::pos2(rect.right(), zero)],
        Stroke::new(1.0, theme::TEXT_DIM),
    );
    response
}

/// dB of a linear level, floored at the meter's floor.
pub fn gain_to_db(level: f32) -> f32 {
    if level > 0.0 {
        (20.0 * level.log10()).max(METER_FLOOR_DB)
    } else {
        METER_FLOOR_DB
    }
}

/// Where `db` sits on the meter, 0 (floor) … 1 (ceiling).
fn db_fraction(db: f32) -> f32 {
    ((db - METER_FLOOR_DB) / (METER_CEIL_DB - METER_FLOOR_DB)).clamp(0.0, 1.0)
}

/// A big toggle button for a boolean parameter, lit in `on_colour` while on.
pub fn toggle(
    ui: &mut Ui,
    param: &BoolParam,
    setter: &ParamSetter,
    label: &str,
    on_colour: Color32,
    size: Vec2,
) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    let on = param.value();
    if response.clicked() {
        set_bool(setter, param, !on);
    }
    let fill = match (on, response.hovered()) {
        (true, _) => on_colour,
        (false, true) => theme::BUTTON_HOT,
        (false, false) => theme::BUTTON,
    };
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 5.0, fill);
    painter.rect_stroke(rect, 5.0, Stroke::new(1.0, if on { on_colour } else { theme::OUTLINE }), StrokeKind::Inside);
    let text = if on { theme::TEXT_ON } else { theme::TEXT };
    painter.text(
        rect.center(),
        Align2::CENTER_CENTER,
        label,
        FontId::new((size.y * 0.45).clamp(12.0, 20.0), theme::bold()),
        text,
    );
    response.on_hover_text(param.name())
}

/// Sets a boolean parameter in one gesture, if it differs.
pub fn set_bool(setter: &ParamSetter, param: &BoolParam, value: bool) {
    if param.value() != value {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, value);
        setter.end_set_parameter(param);
    }
}

/// A button that looks selected while `selected`; returns whether it was clicked.
pub fn choice_button(ui: &mut Ui, text: impl Into<egui::WidgetText>, selected: bool, size: Vec2) -> Response {
    let button = egui::Button::new(text).min_size(size).corner_radius(5.0);
    let button =
        if selected { button.fill(theme::ACCENT_DARK).stroke(Stroke::new(1.0, theme::ACCENT)) } else { button };
    ui.add(button)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_scale() {
        assert_eq!(gain_to_db(0.0), METER_FLOOR_DB);
        assert!((gain_to_db(1.0)).abs() < 1e-6);
        assert_eq!(db_fraction(METER_CEIL_DB), 1.0);
        assert_eq!(db_fraction(-100.0), 0.0);
    }
}
