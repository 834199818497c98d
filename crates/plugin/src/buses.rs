//! The role buses of one block: a typed view, so no caller computes `role * channels + ch`.

use sift_engine::CHANNELS;

use super::roles::Role;

/// One block of every role bus, per channel, preallocated for the host's largest block.
///
/// Written by the [`Mixer`](super::mixer::Mixer), read by the meters and by the plugin's
/// output routing. [`RoleBuses::begin_block`] sets how many samples the current block has;
/// every view is that long.
pub struct RoleBuses {
    /// `[role * channels + channel]`, each `max_block` samples long. The only place that knows
    /// the layout.
    samples: Vec<Vec<f32>>,
    channels: usize,
    len: usize,
}

impl RoleBuses {
    /// Silent buses for `channels` (1 or 2) channels and blocks of up to `max_block` samples
    /// (main thread: this allocates).
    pub fn new(channels: usize, max_block: usize) -> Self {
        let channels = channels.clamp(1, CHANNELS);
        Self { samples: vec![vec![0.0; max_block]; Role::COUNT * channels], channels, len: 0 }
    }

    /// The channels each bus has.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Starts a block of `len` samples (at most the `max_block` the buses were made for).
    ///
    /// # Panics
    /// If `len` is more than that `max_block`: a host that sends a larger block than it
    /// announced breaks its contract, and nice-plug already refuses such blocks.
    pub fn begin_block(&mut self, len: usize) {
        assert!(
            self.samples.first().is_none_or(|s| len <= s.len()),
            "a block of {len} samples is larger than announced"
        );
        self.len = len;
    }

    /// Channel `channel` of `role`'s bus in the current block. A channel past the buses' own
    /// (a stereo host bus on a mono instance) reads the last one, so mono fills both sides.
    pub fn channel(&self, role: Role, channel: usize) -> &[f32] {
        &self.samples[self.index(role, channel)][..self.len]
    }

    /// Channel `channel` of `role`'s bus in the current block, to write.
    pub fn channel_mut(&mut self, role: Role, channel: usize) -> &mut [f32] {
        let index = self.index(role, channel);
        &mut self.samples[index][..self.len]
    }

    /// The largest absolute sample of `role`'s bus in the current block, over its channels.
    pub fn peak(&self, role: Role) -> f32 {
        (0..self.channels).fold(0.0f32, |p, ch| p.max(super::monitor::peak(self.channel(role, ch))))
    }

    fn index(&self, role: Role, channel: usize) -> usize {
        role as usize * self.channels + channel.min(self.channels - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_and_channel_has_its_own_samples_and_mono_fills_both_sides() {
        let mut buses = RoleBuses::new(2, 8);
        buses.begin_block(4);
        for role in Role::ALL {
            for ch in 0..2 {
                buses.channel_mut(role, ch).fill(role as usize as f32 * 10.0 + ch as f32);
            }
        }
        assert_eq!(buses.channel(Role::Bass, 1), [21.0; 4]);
        assert_eq!(buses.channel(Role::Vocals, 0), [0.0; 4]);
        assert_eq!(buses.peak(Role::Extra), 41.0);

        let mut mono = RoleBuses::new(1, 8);
        mono.begin_block(3);
        mono.channel_mut(Role::Drums, 0).fill(0.5);
        assert_eq!(mono.channel(Role::Drums, 1), [0.5; 3]);
        assert_eq!(mono.channel(Role::Other, 0), [0.0; 3]);
    }
}
