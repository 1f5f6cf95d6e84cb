//! The method: one heavy-ball step, and the step sizes at which it is stable on a quadratic.
//!
//! φ^{r+1} = (1−α)·φ^r + α·∇R(θ^r); θ^{r+1} = θ^r − γ·φ^{r+1}. This is the classical heavy ball
//! with step γα and momentum 1−α; α = 1 is plain gradient descent.

use super::Params;
use crate::num::Element;

/// One heavy-ball step, in place: φ ← (1−α)·φ + α·∇, then θ ← θ − γ·φ, element by element
/// in that order of operations (no fused multiply-add), so every build gives the same bits.
///
/// **Panics** if the shapes differ.
pub(crate) fn step_inplace<T: Element>(
    theta: &mut Params<T>,
    phi: &mut Params<T>,
    grad: &Params<T>,
    gamma: T,
    alpha: T,
) {
    assert_eq!(theta.shape(), phi.shape(), "parameter shapes");
    assert_eq!(theta.shape(), grad.shape(), "parameter shapes");
    let one_minus_alpha = T::one() - alpha;
    ndarray::Zip::from(theta.as_flat_mut()).and(phi.as_flat_mut()).and(grad.as_flat()).for_each(
        |t, f, &d| {
            *f = *f * one_minus_alpha + alpha * d;
            *t = *t - gamma * *f;
        },
    );
}

/// The largest curvature λ at which heavy ball with (γ, α) is stable on a quadratic:
/// γλ < 2(2−α)/α, so λ < 2(2−α)/(αγ). Plain gradient descent (α = 1): λ < 2/γ.
pub fn stability_threshold(gamma: f64, alpha: f64) -> f64 {
    2.0 * (2.0 - alpha) / (alpha * gamma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Shape;

    #[test]
    fn a_step_with_alpha_one_is_gradient_descent_and_momentum_carries_phi() {
        let shape = Shape { n_features: 2, n_hidden: 2, n_classes: 2 };
        let start = Params::<f64>::init(shape, 1);
        let mut grad = Params::zeros(shape);
        grad.as_flat_mut().fill(2.0);
        let (mut theta, mut phi) = (start.clone(), Params::zeros(shape));
        step_inplace(&mut theta, &mut phi, &grad, 0.1, 1.0);
        for (t, s) in theta.as_flat().iter().zip(start.as_flat()) {
            approx::assert_relative_eq!(*t, s - 0.2, epsilon = 1e-15);
        }
        // With α = 0.5 the second step moves by γ(0.5·φ + 0.5·∇) = 0.1·(0.5·1 + 0.5·2).
        let (mut theta, mut phi) = (start.clone(), Params::zeros(shape));
        step_inplace(&mut theta, &mut phi, &grad, 0.1, 0.5);
        step_inplace(&mut theta, &mut phi, &grad, 0.1, 0.5);
        for (t, s) in theta.as_flat().iter().zip(start.as_flat()) {
            approx::assert_relative_eq!(*t, s - 0.1 - 0.15, epsilon = 1e-15);
        }
    }

    #[test]
    fn the_threshold_is_the_quadratic_limit() {
        assert_eq!(stability_threshold(0.5, 1.0), 4.0);
        // α = 0.5: 2·1.5/(0.5·γ) = 6/γ, three times GD's 2/γ.
        assert_eq!(stability_threshold(2.0, 0.5), 3.0);
        // On λ = the threshold·0.99, GD's iteration e ← (1 − γλ)e contracts; at 1.01, it grows.
        let (gamma, lambda) = (0.3, stability_threshold(0.3, 1.0));
        assert!((1.0 - gamma * lambda * 0.99_f64).abs() < 1.0);
        assert!((1.0 - gamma * lambda * 1.01_f64).abs() > 1.0);
    }
}
