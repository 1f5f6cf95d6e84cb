//! Run identity: a run's key is a SHA-256 over everything that determines its result, so a
//! finished run is reused exactly when it would be trained the same way again.

use heavyball_core::model::lanes;
use sha2::{Digest, Sha256};

use crate::config::TrainSpec;
use crate::digest::hex;
use crate::grid::RunSpec;
use crate::hessian::TOLERANCE;

/// The version of the on-disk format and of everything that fixes a run's result; part of
/// every run key.
pub const FORMAT_VERSION: u32 = 1;

/// The initialisation scheme, named in run keys (see `Params::init`).
pub const INIT_SCHEME: &str = "W~N(0,1/p) V~N(0,1/M) b=c=0; chacha8 seed stream=M";

/// The identity of a run: a SHA-256 over everything that determines its result, and its
/// readable name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunId {
    /// Hex SHA-256 of the run's defining settings.
    pub key: String,
    /// The readable name, such as `M64-g0.003-a0.5-s1`.
    pub name: String,
}

impl RunId {
    /// The key of a grid point trained on data with this fingerprint. The number of iterations
    /// is not part of it: a longer run continues a shorter one.
    pub fn from_spec(spec: &RunSpec, train: &TrainSpec, fingerprint: &str) -> Self {
        let text = format!(
            "heavyball run v{FORMAT_VERSION}\ndata {fingerprint}\nhidden {}\ngamma {:016x}\nalpha {:016x}\nseed {}\n\
             objective {}\nprecision {}\nchunk_size {}\ndivergence_factor {:?}\ninit {INIT_SCHEME}\n",
            spec.hidden,
            spec.gamma.to_bits(),
            spec.alpha.to_bits(),
            spec.seed,
            train.objective.name(),
            train.precision.name(),
            train.chunk_size,
            train.divergence_factor,
        );
        // Only a sweep that asks for the sharpness names it: every other key stays as it was.
        let text = match train.sharpness {
            Some(s) => {
                format!("{text}sharpness every {} steps {} tolerance {:e}\n", s.every, s.steps, TOLERANCE)
            }
            None => text,
        };
        // Networks the lanes form trains name its arithmetic, whose sums over samples differ
        // from the row-major form's: no run trained by the one is ever continued by the other.
        let text = if lanes::takes_hidden(spec.hidden) {
            format!("{text}numerics {}\n", lanes::NUMERICS)
        } else {
            text
        };
        RunId { key: hex(&Sha256::digest(text)), name: spec.name() }
    }

    /// The run's folder name: the readable name and the key's first 8 hex digits.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.name, &self.key[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The training settings both tests vary from: sum objective, f32, chunks of 1024.
    fn train() -> TrainSpec {
        TrainSpec {
            iterations: 10,
            objective: crate::config::Objective::Sum,
            precision: crate::config::Precision::F32,
            chunk_size: 1024,
            divergence_factor: None,
            checkpoint_every: None,
            sharpness: None,
        }
    }

    fn sharp(every: usize, steps: usize) -> crate::config::SharpnessSpec {
        crate::config::SharpnessSpec { every, steps }
    }

    #[test]
    fn run_keys_change_with_every_defining_setting() {
        let spec = RunSpec { index: 0, hidden: 8, gamma: 0.1, alpha: 0.5, seed: 0 };
        let train = train();
        let base = RunId::from_spec(&spec, &train, "abc");
        assert_eq!(base.name, "M8-g0.1-a0.5-s0");
        assert_eq!(base.dir_name().len(), "M8-g0.1-a0.5-s0-".len() + 8);
        assert_eq!(
            base,
            RunId::from_spec(
                &RunSpec { index: 5, ..spec.clone() },
                &TrainSpec { iterations: 99, ..train.clone() },
                "abc"
            )
        );
        let others = [
            RunId::from_spec(&spec, &train, "abd"),
            RunId::from_spec(&RunSpec { gamma: 0.2, ..spec.clone() }, &train, "abc"),
            RunId::from_spec(&RunSpec { seed: 1, ..spec.clone() }, &train, "abc"),
            RunId::from_spec(&spec, &TrainSpec { chunk_size: 512, ..train.clone() }, "abc"),
            RunId::from_spec(&spec, &TrainSpec { divergence_factor: Some(10.0), ..train.clone() }, "abc"),
            RunId::from_spec(
                &spec,
                &TrainSpec { objective: crate::config::Objective::Mean, ..train.clone() },
                "abc",
            ),
            RunId::from_spec(&spec, &TrainSpec { sharpness: Some(sharp(10, 20)), ..train.clone() }, "abc"),
            RunId::from_spec(&spec, &TrainSpec { sharpness: Some(sharp(5, 20)), ..train.clone() }, "abc"),
            RunId::from_spec(&spec, &TrainSpec { sharpness: Some(sharp(10, 30)), ..train.clone() }, "abc"),
        ];
        let keys: std::collections::HashSet<&str> = others.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys.len(), others.len());
        for other in others {
            assert_ne!(other.key, base.key);
        }
    }

    /// Runs of networks the lanes form trains (M ≤ 16) name its arithmetic in their keys, and
    /// only they: a wider network's key is exactly what it was before the lanes form existed.
    #[test]
    fn lanes_runs_and_only_they_name_the_lanes_numerics() {
        let train = train();
        let text = |hidden: usize| {
            format!(
                "heavyball run v{FORMAT_VERSION}\ndata fp\nhidden {hidden}\ngamma {:016x}\nalpha {:016x}\nseed 3\n\
                 objective sum\nprecision f32\nchunk_size 1024\ndivergence_factor None\ninit {INIT_SCHEME}\n",
                0.1f64.to_bits(),
                0.5f64.to_bits()
            )
        };
        for (hidden, lanes) in [(1, true), (16, true), (17, false), (64, false)] {
            let spec = RunSpec { index: 0, hidden, gamma: 0.1, alpha: 0.5, seed: 3 };
            let want =
                if lanes { format!("{}numerics {}\n", text(hidden), lanes::NUMERICS) } else { text(hidden) };
            assert_eq!(RunId::from_spec(&spec, &train, "fp").key, hex(&Sha256::digest(want)), "M = {hidden}");
        }
    }
}
