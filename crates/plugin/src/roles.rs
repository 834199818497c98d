//! The fixed stem roles of Sift's buses, and how a model's stems map onto them.

use nice_plug::prelude::Enum;
use sift_engine::MAX_STEMS;

/// A stem bus. Roles are fixed so that a DAW's routing survives a change of model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum Role {
    /// Lead and backing vocals.
    Vocals,
    /// Drums and percussion.
    Drums,
    /// Bass.
    Bass,
    /// Everything else (a two-stem model's accompaniment plays here).
    Other,
    /// A fifth stem some models have (e.g. piano or guitar).
    Extra,
}

impl Role {
    /// How many roles (stem buses) there are.
    pub const COUNT: usize = 5;

    /// All roles in bus order.
    pub const ALL: [Role; Role::COUNT] = [Role::Vocals, Role::Drums, Role::Bass, Role::Other, Role::Extra];

    /// The bus names the host shows, in [`Role::ALL`] order.
    pub const NAMES: [&'static str; Role::COUNT] = ["Vocals", "Drums", "Bass", "Other", "Extra"];

    /// The bus name the host shows.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The role a model stem plays on, by its name; `None` for a stem Sift has no bus for
    /// (it then plays on Extra if that is free, see [`RoleMap::new`]).
    pub fn of_stem(stem: &str) -> Option<Role> {
        match stem.to_ascii_lowercase().as_str() {
            "vocals" | "voice" | "vocal" | "singing" => Some(Role::Vocals),
            "drums" | "drum" | "percussion" => Some(Role::Drums),
            "bass" => Some(Role::Bass),
            "other" | "accompaniment" | "instrumental" | "music" | "rest" => Some(Role::Other),
            _ => None,
        }
    }
}

/// Which model stems feed each role: a bit set over stem indices (empty: the role is silent
/// and shown as inactive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleMap {
    stems: [StemSet; Role::COUNT],
}

/// A set of stem indices, one bit each.
type StemSet = u8;
const _: () = assert!(MAX_STEMS <= StemSet::BITS as usize, "a StemSet must hold every stem index");

impl RoleMap {
    /// Maps `stems` (a model's stem names in order, at most [`MAX_STEMS`]) to roles. A stem with no role of
    /// its own plays on Extra if Extra is still free; any further ones join Other, so nothing a
    /// model separates is ever dropped.
    pub fn new(stems: &[String]) -> Self {
        let mut map = RoleMap { stems: [0; Role::COUNT] };
        for (i, stem) in stems.iter().enumerate().take(MAX_STEMS) {
            let role = match Role::of_stem(stem) {
                Some(role) if map.stems[role as usize] == 0 => role,
                _ if map.stems[Role::Extra as usize] == 0 => Role::Extra,
                _ => Role::Other,
            };
            map.stems[role as usize] |= 1 << i;
        }
        map
    }

    /// Whether any stem feeds `role`.
    pub fn is_active(&self, role: Role) -> bool {
        self.stems[role as usize] != 0
    }

    /// The model stems that feed `role`, in order.
    pub fn stems(&self, role: Role) -> impl Iterator<Item = usize> + '_ {
        let bits = self.stems[role as usize];
        (0..MAX_STEMS).filter(move |i| bits & (1 << i) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn stems(map: &RoleMap, role: Role) -> Vec<usize> {
        map.stems(role).collect()
    }

    #[test]
    fn accompaniment_plays_on_other() {
        let map = RoleMap::new(&names(&["vocals", "accompaniment"]));
        assert_eq!(stems(&map, Role::Vocals), [0]);
        assert_eq!(stems(&map, Role::Other), [1]);
        for role in [Role::Drums, Role::Bass, Role::Extra] {
            assert!(!map.is_active(role));
        }
    }

    #[test]
    fn unknown_stems_take_extra_then_join_other() {
        let map = RoleMap::new(&names(&["drums", "bass", "other", "vocals", "piano", "guitar"]));
        assert_eq!(stems(&map, Role::Extra), [4]);
        assert_eq!(stems(&map, Role::Other), [2, 5]);
    }
}
