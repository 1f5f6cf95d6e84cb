//! Training: the heavy-ball loop of one run, or of a fused group of runs side by side, around
//! the full-batch gradient ([`Evaluator`], a deterministic data-parallel reduction over fixed
//! chunks of samples, in `evaluator.rs`).
//!
//! φ⁰ = 0; φ^{r+1} = (1−α)·φ^r + α·∇R(θ^r); θ^{r+1} = θ^r − γ·φ^{r+1}. Row r of a curve holds
//! the mean loss and accuracy at θ^r, so a run of T iterations has rows 0..=T.

mod evaluator;

use heavyball_core::Real;
use heavyball_core::model::{Params, Stats};

use crate::config::{Objective, SharpnessSpec};
use crate::hessian;
pub use evaluator::Evaluator;

/// One row of a loss curve: the state of the network at θ^iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurveRow {
    /// r, the number of steps taken.
    pub iteration: usize,
    /// Mean per-sample training loss.
    pub train_loss: f64,
    /// Training accuracy.
    pub train_accuracy: f64,
    /// Mean per-sample test loss, when there is a test set.
    pub test_loss: Option<f64>,
    /// Test accuracy, when there is a test set.
    pub test_accuracy: Option<f64>,
    /// λ_max of the risk's Hessian at θ^iteration, at the rows the sweep computes it for.
    pub sharpness: Option<f64>,
}

/// The memory one curve row takes while its run trains, for the memory checks: the row itself
/// (72 bytes), its line of `curve.csv` (about 100) and its arrays in a checkpoint while those
/// are written (40). Measured at about 196 bytes per iteration; rounded up.
pub const CURVE_ROW_BYTES: u64 = 256;

/// Where a run stands: θ^k, φ^k, k, and the curve rows 0..k.
#[derive(Clone, Debug, PartialEq)]
pub struct State<T> {
    /// θ^k.
    pub theta: Params<T>,
    /// φ^k.
    pub phi: Params<T>,
    /// k, the number of steps taken.
    pub iteration: usize,
    /// Rows 0..k (row k is added when θ^k is evaluated; a finished run also has row k).
    pub curve: Vec<CurveRow>,
}

impl<T: Real> State<T> {
    /// The start of a run: θ⁰ = the initial parameters, φ⁰ = 0, no rows yet.
    pub fn start(theta: Params<T>) -> Self {
        let phi = Params::zeros(theta.shape());
        State { theta, phi, iteration: 0, curve: Vec::new() }
    }
}

/// How a call to [`train`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// All iterations are done; the curve has rows 0..=T.
    Done,
    /// The training loss became NaN or infinite at the curve's last row; training stopped.
    Diverged,
    /// The step callback asked to stop; the state can be resumed.
    Stopped,
}

/// What the step callback asks for after each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Take the next step.
    Continue,
    /// Stop now, leaving a resumable state.
    Stop,
}

/// The fixed settings of one run.
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    /// γ, the step size.
    pub gamma: f64,
    /// α, the weight of the new gradient in φ.
    pub alpha: f64,
    /// What the gradient is taken of.
    pub objective: Objective,
    /// T, the total number of steps.
    pub iterations: usize,
    /// A run diverges when its training loss exceeds this multiple of its initial loss.
    pub divergence_factor: Option<f64>,
    /// The sharpness at some rows of the curve, when asked for.
    pub sharpness: Option<SharpnessSpec>,
}

/// Trains from `state` until T steps are done, the loss diverges, or `on_step` says stop.
///
/// Each pass evaluates θ^k on the training set (with the gradient, except at k = T) and on the
/// test evaluator when given, appends row k, and then steps. `on_step` sees the state after
/// every step (to count progress, save checkpoints or stop).
pub fn train<T: Real>(
    state: &mut State<T>,
    hyper: &Hyper,
    train_eval: &mut Evaluator<T>,
    test_eval: Option<&mut Evaluator<T>>,
    on_step: &mut dyn FnMut(&State<T>) -> Flow,
) -> Status {
    let statuses = train_group(
        std::slice::from_mut(state),
        std::slice::from_ref(hyper),
        train_eval,
        test_eval,
        &mut |_, s| on_step(s),
    );
    statuses[0]
}

/// Trains a group of runs of one network shape side by side, each as [`train`] would train it
/// alone, with bitwise the same results: every pass evaluates the members still training as one
/// wide network ([`Evaluator::group_loss_grad`]), then appends each member's row and steps it.
/// A member leaves the group when it is done, diverges, or `on_step(member, state)` says stop;
/// the others carry on. The members may be at different iterations (resumed from different
/// checkpoints). Returns each member's status, in order.
///
/// **Panics** if `states` and `hypers` differ in length, a shape differs from the evaluators',
/// or there are more members than the evaluators hold.
pub fn train_group<T: Real>(
    states: &mut [State<T>],
    hypers: &[Hyper],
    train_eval: &mut Evaluator<T>,
    mut test_eval: Option<&mut Evaluator<T>>,
    on_step: &mut dyn FnMut(usize, &State<T>) -> Flow,
) -> Vec<Status> {
    assert_eq!(states.len(), hypers.len(), "one setting per member");
    let count = states.len();
    let mut statuses: Vec<Option<Status>> = vec![None; count];
    let Some(shape) = states.first().map(|s| s.theta.shape()) else { return Vec::new() };
    let mut grads = vec![Params::zeros(shape); count];
    let mut stats = vec![Stats::default(); count];
    let mut test_stats = vec![Stats::default(); count];
    let mut active: Vec<usize> = Vec::with_capacity(count);
    loop {
        active.clear();
        active.extend((0..count).filter(|&i| statuses[i].is_none()));
        let a = active.len();
        if a == 0 {
            break;
        }
        let thetas: Vec<&Params<T>> = active.iter().map(|&i| &states[i].theta).collect();
        // The gradient is taken unless every member is at its last row (its loss is the same
        // either way).
        if active.iter().all(|&i| states[i].iteration >= hypers[i].iterations) {
            train_eval.group_loss(&thetas, &mut stats[..a]);
        } else {
            train_eval.group_loss_grad(&thetas, &mut grads[..a], &mut stats[..a]);
        }
        if let Some(eval) = test_eval.as_mut() {
            eval.group_loss(&thetas, &mut test_stats[..a]);
        }
        drop(thetas);
        for (slot, &i) in active.iter().enumerate() {
            let test = test_eval.is_some().then_some(test_stats[slot]);
            let state = &mut states[i];
            let ended = record_and_step(state, &hypers[i], train_eval, &stats[slot], test, &mut grads[slot]);
            statuses[i] = match ended {
                Some(status) => Some(status),
                None if on_step(i, state) == Flow::Stop => Some(Status::Stopped),
                None => None,
            };
        }
    }
    statuses.into_iter().map(|s| s.expect("every member ended")).collect()
}

/// Appends row k of a member's curve from its loss totals at θ^k and, unless the run ends
/// there, takes the step with `grad` (∇ Σ_i L at θ^k, scaled in place for the mean objective).
/// Returns how the run ended, or `None` when it goes on.
fn record_and_step<T: Real>(
    state: &mut State<T>,
    hyper: &Hyper,
    train_eval: &Evaluator<T>,
    stats: &Stats,
    test: Option<Stats>,
    grad: &mut Params<T>,
) -> Option<Status> {
    let last = state.iteration >= hyper.iterations;
    let loss = stats.mean_loss();
    // The sharpness at rows 0, every k-th and the last, where the loss is finite. It reads θ
    // only, so training is bitwise the same with and without it.
    let sharpness = hyper
        .sharpness
        .filter(|s| (last || state.iteration.is_multiple_of(s.every)) && loss.is_finite())
        .map(|s| {
            let data = train_eval.data();
            hessian::extremes(&state.theta, data, train_eval.chunk_size(), hyper.objective, s.steps).max
        });
    state.curve.push(CurveRow {
        iteration: state.iteration,
        train_loss: loss,
        train_accuracy: stats.accuracy(),
        test_loss: test.map(|t| t.mean_loss()),
        test_accuracy: test.map(|t| t.accuracy()),
        sharpness,
    });
    let limit = hyper.divergence_factor.map_or(f64::INFINITY, |f| f * state.curve[0].train_loss);
    if !loss.is_finite() || loss > limit {
        return Some(Status::Diverged);
    }
    if last {
        return Some(Status::Done);
    }
    if hyper.objective == Objective::Mean {
        let inv_n = T::from_f64(1.0 / train_eval.len() as f64).expect("finite");
        grad.scale_inplace(inv_n);
    }
    let gamma = T::from_f64(hyper.gamma).expect("finite gamma");
    let alpha = T::from_f64(hyper.alpha).expect("finite alpha");
    T::momentum_step(&mut state.theta, &mut state.phi, grad, gamma, alpha);
    state.iteration += 1;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Synthetic;
    use crate::data::{self, Dataset};
    use heavyball_core::model::Shape;

    fn dataset(n: usize) -> Dataset<f64> {
        let table = data::synthetic::generate(&Synthetic {
            samples: n,
            features: 5,
            classes: 3,
            seed: 4,
            noise: 0.5,
            condition: 1.0,
        });
        Dataset { x: table.x, y: table.y }
    }

    fn run(data: &Dataset<f64>, chunk: usize, threads: usize, hyper: &Hyper) -> (Status, State<f64>) {
        let shape = Shape { n_features: 5, n_hidden: 6, n_classes: 3 };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut eval = Evaluator::new(data, shape, chunk, true);
            let mut state = State::start(Params::init(shape, 1));
            let status = train(&mut state, hyper, &mut eval, None, &mut |_| Flow::Continue);
            (status, state)
        })
    }

    #[test]
    fn the_sharpness_column_leaves_training_untouched_and_sits_at_its_rows() {
        let data = dataset(300);
        let plain = Hyper {
            gamma: 1e-3,
            alpha: 0.5,
            objective: Objective::Sum,
            iterations: 23,
            divergence_factor: None,
            sharpness: None,
        };
        let with = Hyper { sharpness: Some(SharpnessSpec { every: 5, steps: 12 }), ..plain };
        let (status, without) = run(&data, 64, 2, &plain);
        assert_eq!(status, Status::Done);
        let (_, sharp) = run(&data, 64, 2, &with);
        // θ, φ and every loss column bitwise the same.
        assert_eq!(
            (&sharp.theta, &sharp.phi, sharp.iteration),
            (&without.theta, &without.phi, without.iteration)
        );
        for (a, b) in sharp.curve.iter().zip(&without.curve) {
            assert_eq!(CurveRow { sharpness: None, ..*a }, *b);
        }
        let rows: Vec<usize> =
            sharp.curve.iter().filter(|r| r.sharpness.is_some()).map(|r| r.iteration).collect();
        assert_eq!(rows, [0, 5, 10, 15, 20, 23]);
        // Row 0's value is λ_max at the initial point, as hessian::extremes gives it.
        let shape = Shape { n_features: 5, n_hidden: 6, n_classes: 3 };
        let at_init = hessian::extremes(&Params::init(shape, 1), &data, 64, Objective::Sum, 12).max;
        assert_eq!(sharp.curve[0].sharpness, Some(at_init));
        // The same at another thread count.
        assert_eq!(run(&data, 64, 3, &with).1, sharp);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let data = dataset(1000);
        let hyper = Hyper {
            gamma: 1e-3,
            alpha: 0.5,
            objective: Objective::Sum,
            iterations: 20,
            divergence_factor: None,
            sharpness: None,
        };
        let (_, one) = run(&data, 64, 1, &hyper);
        let (_, four) = run(&data, 64, 4, &hyper);
        assert_eq!(one, four);
        assert_eq!(one.curve.len(), 21);
        assert!(one.curve[20].train_loss < one.curve[0].train_loss);
    }

    #[test]
    fn chunked_training_matches_single_chunk_training() {
        let data = dataset(300);
        let hyper = Hyper {
            gamma: 0.1,
            alpha: 0.3,
            objective: Objective::Mean,
            iterations: 30,
            divergence_factor: None,
            sharpness: None,
        };
        let (_, chunked) = run(&data, 7, 2, &hyper);
        let (_, whole) = run(&data, 300, 2, &hyper);
        for (a, b) in chunked.curve.iter().zip(&whole.curve) {
            approx::assert_relative_eq!(a.train_loss, b.train_loss, max_relative = 1e-12);
        }
    }

    #[test]
    fn a_huge_step_diverges_and_stops_there() {
        let data = dataset(200);
        let hyper = Hyper {
            gamma: 1e307,
            alpha: 1.0,
            objective: Objective::Sum,
            iterations: 50,
            divergence_factor: None,
            sharpness: None,
        };
        let (status, state) = run(&data, 64, 1, &hyper);
        assert_eq!(status, Status::Diverged);
        let last = state.curve.last().unwrap();
        assert!(!last.train_loss.is_finite());
        assert!(state.curve.len() < 51);
        assert!(state.curve[..state.curve.len() - 1].iter().all(|r| r.train_loss.is_finite()));
    }

    #[test]
    fn a_divergence_factor_stops_a_run_whose_loss_grows() {
        let data = dataset(200);
        let hyper = Hyper {
            gamma: 3.0,
            alpha: 1.0,
            objective: Objective::Sum,
            iterations: 50,
            divergence_factor: Some(2.0),
            sharpness: None,
        };
        let (status, state) = run(&data, 64, 1, &hyper);
        assert_eq!(status, Status::Diverged);
        let last = state.curve.last().unwrap().train_loss;
        assert!(last.is_finite() && last > 2.0 * state.curve[0].train_loss);
    }

    #[test]
    fn stopping_and_resuming_gives_the_same_run() {
        let data = dataset(300);
        let hyper = Hyper {
            gamma: 1e-3,
            alpha: 0.2,
            objective: Objective::Sum,
            iterations: 12,
            divergence_factor: None,
            sharpness: None,
        };
        let (_, straight) = run(&data, 50, 1, &hyper);
        let shape = Shape { n_features: 5, n_hidden: 6, n_classes: 3 };
        let mut eval = Evaluator::new(&data, shape, 50, true);
        let mut state = State::start(Params::init(shape, 1));
        let status = train(&mut state, &hyper, &mut eval, None, &mut |s| {
            if s.iteration == 5 { Flow::Stop } else { Flow::Continue }
        });
        assert_eq!((status, state.iteration, state.curve.len()), (Status::Stopped, 5, 5));
        let status = train(&mut state, &hyper, &mut eval, None, &mut |_| Flow::Continue);
        assert_eq!(status, Status::Done);
        assert_eq!(state, straight);
    }

    /// One member's run trained alone, from `state`, in `T`.
    fn alone<T: Real>(
        train_set: &Dataset<T>,
        test_set: &Dataset<T>,
        shape: Shape,
        mut state: State<T>,
        hyper: &Hyper,
        stop_at: Option<usize>,
    ) -> (Status, State<T>) {
        let mut eval = Evaluator::new(train_set, shape, 64, true);
        let mut test_eval = Evaluator::new(test_set, shape, 64, false);
        let status = super::train(&mut state, hyper, &mut eval, Some(&mut test_eval), &mut |s: &State<T>| {
            if Some(s.iteration) == stop_at { Flow::Stop } else { Flow::Continue }
        });
        (status, state)
    }

    /// A fused group trains every member to bitwise the state, curve and status it reaches
    /// alone: members of every γ and α, some diverging (by NaN and by the divergence factor) at
    /// different iterations, some resumed from different iterations, one stopped half-way, both
    /// objectives, at 1 and 3 threads.
    fn group_equals_alone<T: Real>() {
        let convert =
            |d: Dataset<f64>| Dataset::<T> { x: d.x.mapv(|v| T::from_f64(v).expect("finite")), y: d.y };
        let (train_set, test_set) = (convert(dataset(300)), convert(dataset(90)));
        let shape = Shape { n_features: 5, n_hidden: 4, n_classes: 3 };
        let settings =
            [(1e-3, 1.0), (0.05, 0.5), (1e30, 1.0), (3.0, 0.2), (0.01, 0.1), (2.0, 1.0), (1e-2, 0.3)];
        for objective in [Objective::Sum, Objective::Mean] {
            let hypers: Vec<Hyper> = settings
                .iter()
                .map(|&(gamma, alpha)| Hyper {
                    gamma: if objective == Objective::Mean { gamma * 300.0 } else { gamma },
                    alpha,
                    objective,
                    iterations: 25,
                    divergence_factor: Some(3.0),
                    sharpness: None,
                })
                .collect();
            // Starting points: members 1 and 4 resume from states their own runs reached.
            let starts: Vec<State<T>> = hypers
                .iter()
                .enumerate()
                .map(|(r, hyper)| {
                    let fresh = State::start(Params::init(shape, r as u64 % 3));
                    if r == 1 || r == 4 {
                        alone(&train_set, &test_set, shape, fresh, hyper, Some(3 + r)).1
                    } else {
                        fresh
                    }
                })
                .collect();
            let stop_member = 6;
            let want: Vec<(Status, State<T>)> = hypers
                .iter()
                .zip(&starts)
                .enumerate()
                .map(|(r, (hyper, start))| {
                    let stop = (r == stop_member).then_some(11);
                    alone(&train_set, &test_set, shape, start.clone(), hyper, stop)
                })
                .collect();
            let statuses: Vec<Status> = want.iter().map(|w| w.0).collect();
            assert!(statuses.contains(&Status::Diverged) && statuses.contains(&Status::Done));
            assert_eq!(statuses[stop_member], Status::Stopped);
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (got, states) = pool.install(|| {
                    let mut states = starts.clone();
                    let count = states.len();
                    let mut eval = Evaluator::for_group(&train_set, shape, 64, true, count);
                    let mut test_eval = Evaluator::for_group(&test_set, shape, 64, false, count);
                    let got =
                        train_group(&mut states, &hypers, &mut eval, Some(&mut test_eval), &mut |r, s| {
                            if r == stop_member && s.iteration == 11 { Flow::Stop } else { Flow::Continue }
                        });
                    (got, states)
                });
                assert_eq!(got, statuses, "{} {objective:?}", T::NAME);
                for (r, (state, (_, alone))) in states.iter().zip(&want).enumerate() {
                    assert_eq!(state, alone, "{} {objective:?} member {r}, {threads} threads", T::NAME);
                }
            }
        }
    }

    #[test]
    fn a_fused_group_trains_each_member_bitwise_as_alone() {
        group_equals_alone::<f32>();
        group_equals_alone::<f64>();
    }
}
