//! One full-batch loss-and-gradient evaluation at named sizes, in f32 and f64.
//!
//! `gradient/*` runs the whole data-parallel reduction on all threads (set RAYON_NUM_THREADS to
//! pin the count); `chunk/*` is one 1024-sample chunk on one thread, the kernel every run is
//! made of; `chunk-hvp/*` is one Hessian-vector product on such a chunk (the pass at θ cached,
//! as Lanczos uses it), reported in the gradient's flops so its time compares directly.
//! Throughput is reported in useful flops (4NpM + 6NMK per evaluation), so criterion's
//! "elem/s" reads as flop/s.
//!
//!     cargo bench -p heavyball-benches --bench gradient
//!     cargo bench -p heavyball-benches --bench gradient -- 'chunk/'
//!     cargo bench -p heavyball-benches --bench gradient -- 'fused-iteration/'
//!
//! `fused-iteration/*` is one iteration of R bench-T runs fused into one wide network against
//! the same R runs one by one, on one thread.
//!
//! `lanes/*` takes the lanes form of small networks apart on one 1024-sample chunk, one thread:
//! the whole loss and gradient, the loss alone, and each pass over all of the chunk's batches
//! (S = W·Xᵀ, tanh, F = V·H, Vᵀ·G, the lane sums of dW, db, dV and dc), at bench-T's and
//! bench-tiny's shapes. The output layer and the step through tanh are what the whole leaves
//! over (they are not public):
//!
//!     cargo bench -p heavyball-benches --bench gradient -- 'lanes/'

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use heavyball::config::Synthetic;
use heavyball::data::{Dataset, synthetic};
use heavyball::train::Evaluator;
use heavyball_core::Real;
use heavyball_core::model::{ForwardWeights, LaneChunk, Params, Shape, Stats, Workspace};
use heavyball_core::num::{Element, linalg};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};

/// (name, N, p, M, K): bench-A's three widths and a Fashion-MNIST-shaped problem.
const SIZES: [(&str, usize, usize, usize, usize); 4] = [
    ("benchA-M32", 20_000, 64, 32, 10),
    ("benchA-M64", 20_000, 64, 64, 10),
    ("benchA-M128", 20_000, 64, 128, 10),
    ("fashion-M64", 60_000, 784, 64, 10),
];

fn dataset<T: Real>(n: usize, p: usize, k: usize) -> Dataset<T> {
    let table = synthetic::generate(&Synthetic {
        samples: n,
        features: p,
        classes: k,
        seed: 1,
        noise: 0.5,
        condition: 1.0,
    });
    Dataset { x: table.x.mapv(|v| T::from_f64(v).expect("finite")), y: table.y }
}

fn bench_precision<T: Real>(c: &mut Criterion) {
    let mut group = c.benchmark_group("gradient");
    group.sample_size(10);
    for (name, n, p, m, k) in SIZES {
        if T::NAME == "f64" && n > 20_000 {
            continue;
        }
        let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
        let data = dataset::<T>(n, p, k);
        let theta = Params::<T>::init(shape, 0);
        let mut grad = Params::zeros(shape);
        let mut eval = Evaluator::new(&data, shape, 1024, true);
        group.throughput(Throughput::Elements(shape.flops_per_iteration(n) as u64));
        group.bench_function(BenchmarkId::new(T::NAME, name), |b| {
            b.iter(|| black_box(eval.loss_grad(black_box(&theta), &mut grad)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("chunk");
    for (name, _, p, m, k) in SIZES {
        let rows = 1024;
        let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
        let data = dataset::<T>(rows, p, k);
        let theta = Params::<T>::init(shape, 0);
        let mut grad = Params::zeros(shape);
        let mut ws = Workspace::new(shape, rows);
        let weights = ForwardWeights::of(&theta);
        group.throughput(Throughput::Elements(shape.flops_per_iteration(rows) as u64));
        group.bench_function(BenchmarkId::new(T::NAME, name), |b| {
            b.iter(|| {
                black_box(T::loss_grad_chunk(&theta, &weights, data.x.view(), &data.y, &mut ws, &mut grad))
            })
        });
    }
    group.finish();

    // A Hessian-vector product on the same chunk, from the pass at θ cached once (as Lanczos
    // uses it): compare with `chunk/*`, one gradient.
    let mut group = c.benchmark_group("chunk-hvp");
    for (name, _, p, m, k) in SIZES {
        let rows = 1024;
        let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
        let data = dataset::<T>(rows, p, k);
        let theta = Params::<T>::init(shape, 0);
        let direction = Params::<T>::init(shape, 1);
        let mut out = Params::zeros(shape);
        let mut hessian = T::hessian_at(&theta, data.x.view(), &data.y);
        group.throughput(Throughput::Elements(shape.flops_per_iteration(rows) as u64));
        group.bench_function(BenchmarkId::new(T::NAME, name), |b| {
            b.iter(|| {
                T::hessian_product(&mut hessian, &theta, data.x.view(), black_box(&direction), &mut out)
            })
        });
    }
    group.finish();
}

/// An r×c matrix of deterministic values in [−0.4, 0.6), continuing the sequence in `state`.
fn filler(r: usize, c: usize, state: &mut f32) -> Array2<f32> {
    Array2::from_shape_simple_fn((r, c), || {
        *state = (*state * 3.7).fract() + 0.1;
        *state - 0.5
    })
}

/// The five products of one 1024-row chunk at bench-A's largest width (p = 64, M = 128, K = 10),
/// in the layouts the model uses (Wᵀ and Vᵀ copied row-major, Vᵀ padded to 16 columns, G
/// class-major): heavyball's kernel, the pure-Rust `gemm` crate and ndarray's default
/// (matrixmultiply). The measurement behind the choice of kernel.
fn bench_products(c: &mut Criterion) {
    let (n, p, m, k) = (1024, 64, 128, 10);
    let mut rng = 0.5f32;
    let mut fill = |r, c| filler(r, c, &mut rng);
    let (x, wt, h, vt, gt, v, d) =
        (fill(n, p), fill(p, m), fill(n, m), fill(m, 16), fill(k, n), fill(k, m), fill(n, m));
    let mut out_nm = Array2::<f32>::zeros((n, m));
    let mut out_nk = Array2::<f32>::zeros((n, 16));
    let mut out_km = Array2::<f32>::zeros((k, m));
    let mut out_mp = Array2::<f32>::zeros((m, p));
    let mut group = c.benchmark_group("matmul");
    type Case<'a> = (&'a str, ArrayView2<'a, f32>, ArrayView2<'a, f32>, usize);
    let cases: [Case; 5] = [
        ("S=X.Wt", x.view(), wt.view(), 0),
        ("F=H.Vt", h.view(), vt.view(), 1),
        ("dV=Gt.H", gt.view(), h.view(), 2),
        ("GV=G.V", gt.t(), v.view(), 0),
        ("dW=Dt.X", d.t(), x.view(), 3),
    ];
    for (name, a, b, slot) in cases {
        let out = match slot {
            0 => &mut out_nm,
            1 => &mut out_nk,
            2 => &mut out_km,
            _ => &mut out_mp,
        };
        group.throughput(Throughput::Elements((2 * a.nrows() * a.ncols() * b.ncols()) as u64));
        group.bench_function(BenchmarkId::new("kernel", name), |bch| {
            bch.iter(|| linalg::matmul(black_box(a), black_box(b), &mut out.view_mut()))
        });
        group.bench_function(BenchmarkId::new("gemm-crate", name), |bch| {
            bch.iter(|| gemm_crate(black_box(a), black_box(b), &mut out.view_mut()))
        });
        group.bench_function(BenchmarkId::new("matrixmultiply", name), |bch| {
            bch.iter(|| general_mat_mul(1.0, &black_box(a), &black_box(b), 0.0, out))
        });
    }
    group.finish();
}

/// C = A·B through the `gemm` crate, single-threaded (the backend heavyball used before its own
/// kernel).
fn gemm_crate(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ndarray::ArrayViewMut2<f32>) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (a_s, b_s, c_s) = (a.strides(), b.strides(), c.strides());
    let (a_rs, a_cs, b_rs, b_cs, c_rs, c_cs) = (a_s[0], a_s[1], b_s[0], b_s[1], c_s[0], c_s[1]);
    // SAFETY: pointers and strides of live views with chaining shapes; C is borrowed mutably.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Would fusing the 9 runs of one M (they share X) into one wide product pay? S = X·Wᵀ and
/// dW = Dᵀ·X for 9 runs as 9 products of width M against one of width 9M, at bench-A's M = 32.
fn bench_fusion(c: &mut Criterion) {
    let (n, p, m, runs) = (1024, 64, 32, 9);
    let mut rng = 0.5f32;
    let mut fill = |r, c| filler(r, c, &mut rng);
    let (x, w, wide_w, d, wide_d) =
        (fill(n, p), fill(m, p), fill(runs * m, p), fill(n, m), fill(n, runs * m));
    let (mut h, mut wide_h) = (Array2::<f32>::zeros((n, m)), Array2::<f32>::zeros((n, runs * m)));
    let (mut dw, mut wide_dw) = (Array2::<f32>::zeros((m, p)), Array2::<f32>::zeros((runs * m, p)));
    let mut group = c.benchmark_group("fusion");
    group.throughput(Throughput::Elements((2 * n * p * m * runs) as u64));
    group.bench_function("S-9-separate", |b| {
        b.iter(|| (0..runs).for_each(|_| linalg::matmul(black_box(x.view()), w.t(), &mut h.view_mut())))
    });
    group.bench_function("S-fused", |b| {
        b.iter(|| linalg::matmul(black_box(x.view()), wide_w.t(), &mut wide_h.view_mut()))
    });
    group.bench_function("dW-9-separate", |b| {
        b.iter(|| (0..runs).for_each(|_| linalg::matmul(black_box(d.t()), x.view(), &mut dw.view_mut())))
    });
    group.bench_function("dW-fused", |b| {
        b.iter(|| linalg::matmul(black_box(wide_d.t()), x.view(), &mut wide_dw.view_mut()))
    });
    group.finish();
}

/// tanh over one chunk's hidden layer (1024×128 values in [−4, 4]): the vectorised kernel
/// against the standard library's scalar `f32::tanh`.
fn bench_tanh(c: &mut Criterion) {
    let n = 1024 * 128;
    let xs: Vec<f32> = (0..n).map(|i| (i as f32 / n as f32 - 0.5) * 8.0).collect();
    let bias = vec![0.0f32; 128];
    let mut buf = xs.clone();
    let mut group = c.benchmark_group("tanh");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("fastmath", |b| {
        b.iter(|| {
            buf.copy_from_slice(&xs);
            for row in buf.chunks_exact_mut(bias.len()) {
                f32::bias_tanh(row, &bias);
            }
        })
    });
    group.bench_function("std", |b| {
        b.iter(|| {
            buf.copy_from_slice(&xs);
            buf.iter_mut().for_each(|x| *x = x.tanh());
        })
    });
    group.finish();
}

/// One full-batch iteration of bench-T's runs (N = 1500, p = 16, K = 4, f32) on one thread: R
/// runs of M hidden units as one fused group of width R·M = 64 against the same R runs one
/// after the other, the group sizes a sweep uses (`heavyball::sweep::group_size`).
fn bench_fused_iteration(c: &mut Criterion) {
    let (n, p, k) = (1500, 16, 4);
    let data = dataset::<f32>(n, p, k);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a thread pool");
    let mut group = c.benchmark_group("fused-iteration");
    for m in [4, 8, 16, 32] {
        let runs = 64 / m;
        let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
        let thetas: Vec<Params<f32>> = (0..runs).map(|s| Params::init(shape, s as u64)).collect();
        let members: Vec<&Params<f32>> = thetas.iter().collect();
        let mut grads = vec![Params::zeros(shape); runs];
        let mut stats = vec![Stats::default(); runs];
        let mut fused = Evaluator::for_group(&data, shape, 1024, true, runs);
        let mut single = Evaluator::new(&data, shape, 1024, true);
        let name = format!("benchT-M{m}-R{runs}");
        group.throughput(Throughput::Elements((shape.flops_per_iteration(n) * runs as f64) as u64));
        group.bench_function(BenchmarkId::new("fused", &name), |b| {
            pool.install(|| b.iter(|| fused.group_loss_grad(black_box(&members), &mut grads, &mut stats)))
        });
        group.bench_function(BenchmarkId::new("one-by-one", &name), |b| {
            pool.install(|| {
                b.iter(|| {
                    for (theta, grad) in thetas.iter().zip(grads.iter_mut()) {
                        black_box(single.loss_grad(black_box(theta), grad));
                    }
                })
            })
        });
    }
    group.finish();
}

/// The lanes form's passes on one chunk of 1024 samples, f32, one thread (see the module
/// notes). Each pass runs over every batch of the chunk, at the batch width the form uses.
fn bench_lanes(c: &mut Criterion) {
    let rows = 1024;
    let mut group = c.benchmark_group("lanes");
    group.sample_size(20).measurement_time(std::time::Duration::from_secs(2));
    // (name, p, M, K): bench-T's widths and bench-tiny's.
    for (name, p, m, k) in
        [("T-M4", 16, 4, 4), ("T-M16", 16, 16, 4), ("tiny-M2", 12, 2, 3), ("tiny-M12", 12, 12, 3)]
    {
        let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
        let data = dataset::<f32>(rows, p, k);
        let theta = Params::<f32>::init(shape, 0);
        let weights = ForwardWeights::of(&theta);
        let chunk = LaneChunk::new(data.x.view(), &data.y);
        let mut ws = Workspace::new(shape, rows);
        let (mut grads, mut stats) = ([Params::zeros(shape)], [Stats::default()]);
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function(BenchmarkId::new("whole", name), |b| {
            b.iter(|| {
                f32::lanes_group_loss_grad_chunk(&[&theta], &weights, &chunk, &mut ws, &mut grads, &mut stats)
            })
        });
        group.bench_function(BenchmarkId::new("loss-only", name), |b| {
            b.iter(|| f32::lanes_group_loss_chunk(&[&theta], &weights, &chunk, &mut ws, &mut stats))
        });
        // The batch matrices, as the form lays them out: samples along the rows.
        let width = (9216 / (2 * m + k) / 128 * 128).clamp(128, 512);
        let batches = rows.div_ceil(width);
        let mut state = 0.3f32;
        let xt = filler(p, width, &mut state);
        let mut h = filler(m, width, &mut state).mapv(|v| v.tanh());
        let mut g = filler(k, width, &mut state);
        let mut d = filler(m, width, &mut state);
        let views = theta.views();
        let bias = vec![0.1f32; width];
        let ones = Array2::<f32>::ones((1, width));
        let mut sums = vec![0.0f32; shape.n_params() * 16];
        group.bench_function(BenchmarkId::new("S", name), |b| {
            b.iter(|| (0..batches).for_each(|_| linalg::matmul(views.w, xt.view(), &mut h.view_mut())))
        });
        group.bench_function(BenchmarkId::new("tanh", name), |b| {
            b.iter(|| {
                for _ in 0..batches {
                    for row in h.rows_mut() {
                        f32::bias_tanh(row.into_slice().expect("a row"), &bias);
                    }
                }
            })
        });
        group.bench_function(BenchmarkId::new("F", name), |b| {
            b.iter(|| (0..batches).for_each(|_| linalg::matmul(views.v, h.view(), &mut g.view_mut())))
        });
        group.bench_function(BenchmarkId::new("VtG", name), |b| {
            b.iter(|| (0..batches).for_each(|_| linalg::matmul(views.v.t(), g.view(), &mut d.view_mut())))
        });
        group.bench_function(BenchmarkId::new("lane-sums", name), |b| {
            b.iter(|| {
                for _ in 0..batches {
                    let (sw, rest) = sums.split_at_mut(m * p * 16);
                    let (sb, rest) = rest.split_at_mut(m * 16);
                    let (sv, sc) = rest.split_at_mut(k * m * 16);
                    linalg::lane_products(sw, d.view(), xt.view());
                    linalg::lane_products(sb, d.view(), ones.view());
                    linalg::lane_products(sv, g.view(), h.view());
                    linalg::lane_products(sc, g.view(), ones.view());
                }
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_tanh(c);
    bench_precision::<f32>(c);
    bench_precision::<f64>(c);
    bench_products(c);
    bench_fusion(c);
    bench_fused_iteration(c);
    bench_lanes(c);
}

criterion_group!(gradient, benches);
criterion_main!(gradient);
