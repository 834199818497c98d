//! One-click scenes: sets of mute, solo and gain values, applied through the host's parameter
//! gestures so the host records them like any other change.

use nice_plug::prelude::*;

use super::widgets::set_bool;
use crate::params::SiftParams;
use crate::roles::Role;

/// A scene: which roles are muted and soloed after one click.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scene {
    /// Vocals muted, everything else playing, no solo.
    Instrumental,
    /// Vocals solo.
    ACappella,
    /// Drums muted.
    NoDrums,
    /// Drums and bass solo.
    DrumsAndBass,
    /// Everything unmuted, no solo, every gain at 0 dB.
    Reset,
}

impl Scene {
    /// All scenes in the order the editor shows them.
    pub const ALL: [Scene; 5] =
        [Scene::Instrumental, Scene::ACappella, Scene::NoDrums, Scene::DrumsAndBass, Scene::Reset];

    /// The button's label.
    pub fn name(self) -> &'static str {
        match self {
            Scene::Instrumental => "Instrumental",
            Scene::ACappella => "A cappella",
            Scene::NoDrums => "No drums",
            Scene::DrumsAndBass => "Drums + bass",
            Scene::Reset => "Reset",
        }
    }

    /// What the scene does, for the tooltip.
    pub fn description(self) -> &'static str {
        match self {
            Scene::Instrumental => "Mutes the vocals; everything else plays, no solo",
            Scene::ACappella => "Solos the vocals",
            Scene::NoDrums => "Mutes the drums; everything else plays, no solo",
            Scene::DrumsAndBass => "Solos drums and bass",
            Scene::Reset => "Unmutes everything, clears solo, sets every stem to 0 dB",
        }
    }

    /// Mute and solo of each role in this scene.
    pub fn states(self) -> [(bool, bool); 5] {
        std::array::from_fn(|i| {
            let role = Role::ALL[i];
            match self {
                Scene::Instrumental => (role == Role::Vocals, false),
                Scene::ACappella => (false, role == Role::Vocals),
                Scene::NoDrums => (role == Role::Drums, false),
                Scene::DrumsAndBass => (false, matches!(role, Role::Drums | Role::Bass)),
                Scene::Reset => (false, false),
            }
        })
    }

    /// Whether the parameters are in this scene now.
    pub fn matches(self, params: &SiftParams) -> bool {
        let states_match = self
            .states()
            .iter()
            .zip(&params.roles)
            .all(|(&(mute, solo), r)| r.mute.value() == mute && r.solo.value() == solo);
        states_match
            && (self != Scene::Reset
                || params.roles.iter().all(|r| r.gain.unmodulated_plain_value() == r.gain.default_plain_value()))
    }

    /// Applies the scene, one gesture per parameter that changes.
    pub fn apply(self, params: &SiftParams, setter: &ParamSetter) {
        for (&(mute, solo), r) in self.states().iter().zip(&params.roles) {
            set_bool(setter, &r.mute, mute);
            set_bool(setter, &r.solo, solo);
            if self == Scene::Reset && r.gain.unmodulated_plain_value() != r.gain.default_plain_value() {
                setter.begin_set_parameter(&r.gain);
                setter.set_parameter(&r.gain, r.gain.default_plain_value());
                setter.end_set_parameter(&r.gain);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_mute_and_solo_what_they_say() {
        assert_eq!(Scene::Instrumental.states()[Role::Vocals as usize], (true, false));
        assert_eq!(Scene::Instrumental.states()[Role::Drums as usize], (false, false));
        assert_eq!(Scene::ACappella.states()[Role::Vocals as usize], (false, true));
        let db = Scene::DrumsAndBass.states();
        assert!(db[Role::Drums as usize].1 && db[Role::Bass as usize].1 && !db[Role::Vocals as usize].1);
        assert!(Scene::Reset.matches(&SiftParams::default()));
        assert!(!Scene::Instrumental.matches(&SiftParams::default()));
    }
}
