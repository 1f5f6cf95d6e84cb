//! The loss and gradient of a network, or of a fused group of networks of one shape, over a
//! data set: chunk by chunk in parallel, reduced in chunk order.

use std::ops::Range;
use std::sync::Mutex;

use heavyball_core::Real;
use heavyball_core::model::{ForwardWeights, LaneChunk, Params, Shape, Stats, Workspace, lanes};
use rayon::prelude::*;

use crate::data::Dataset;

/// Evaluates the loss (and gradient) of a network, or of a group of networks of one shape
/// fused into one wide network, on one data set, chunk by chunk in parallel.
///
/// Chunk boundaries depend only on the data size and the chunk size, each chunk's gradients go
/// into their own buffers, and the buffers are summed in chunk order: the result is bitwise the
/// same whatever the number of threads, and each member of a group gets bitwise what it would
/// get alone (see [`Real::group_loss_grad_chunk`]). Small networks ([`lanes::suits`]) take the
/// lanes form ([`Real::lanes_group_loss_grad_chunk`]), on each chunk's samples laid out once
/// when the evaluator is made; its sums over samples run in 16 lanes, so their runs' keys name
/// [`lanes::NUMERICS`] (see `store::RunId`). All buffers are allocated up front
/// (workspaces on first use, one per concurrently working thread), so evaluations allocate
/// nothing.
pub struct Evaluator<'d, T> {
    data: &'d Dataset<T>,
    shape: Shape,
    chunk_size: usize,
    ranges: Vec<Range<usize>>,
    /// The most members a group may have.
    capacity: usize,
    /// Per chunk, one gradient per member.
    grads: Vec<Vec<Params<T>>>,
    /// Per chunk, one set of loss totals per member.
    stats: Vec<Vec<Stats>>,
    pool: Mutex<Vec<Workspace<T>>>,
    /// The members' weights for the forward products, laid out once per evaluation.
    weights: ForwardWeights<T>,
    /// Each chunk's samples for the lanes form; empty when the row-major form evaluates.
    lane_chunks: Vec<LaneChunk<T>>,
}

impl<'d, T: Real> Evaluator<'d, T> {
    /// An evaluator of one network on `data`; `with_gradient` reserves per-chunk gradient
    /// buffers.
    pub fn new(data: &'d Dataset<T>, shape: Shape, chunk_size: usize, with_gradient: bool) -> Self {
        Self::for_group(data, shape, chunk_size, with_gradient, 1)
    }

    /// An evaluator of groups of up to `capacity` networks of one shape on `data`.
    pub fn for_group(
        data: &'d Dataset<T>,
        shape: Shape,
        chunk_size: usize,
        with_gradient: bool,
        capacity: usize,
    ) -> Self {
        let capacity = capacity.max(1);
        let ranges = data.chunks(chunk_size);
        let grads = if with_gradient {
            ranges.iter().map(|_| vec![Params::zeros(shape); capacity]).collect()
        } else {
            Vec::new()
        };
        let lane_chunks = if lanes::suits(shape) {
            ranges
                .iter()
                .map(|r| {
                    let (x, y) = data.rows(r.clone());
                    LaneChunk::new(x, y)
                })
                .collect()
        } else {
            Vec::new()
        };
        Evaluator {
            lane_chunks,
            data,
            shape,
            chunk_size: chunk_size.min(data.len()),
            capacity,
            stats: vec![vec![Stats::default(); capacity]; ranges.len()],
            ranges,
            grads,
            pool: Mutex::new(Vec::new()),
            weights: ForwardWeights::for_group(shape, capacity),
        }
    }

    /// The data set.
    pub fn data(&self) -> &'d Dataset<T> {
        self.data
    }

    /// The samples per chunk.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the data set is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The most members of a group.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn take_workspace(&self) -> Workspace<T> {
        let pooled = self.pool.lock().expect("workspace pool").pop();
        pooled.unwrap_or_else(|| Workspace::for_group(self.shape, self.chunk_size, self.capacity))
    }

    fn give_back(&self, ws: Workspace<T>) {
        self.pool.lock().expect("workspace pool").push(ws);
    }

    /// Loss totals at θ, without the gradient.
    pub fn loss(&mut self, theta: &Params<T>) -> Stats {
        let mut stats = [Stats::default()];
        self.group_loss(&[theta], &mut stats);
        stats[0]
    }

    /// Loss totals at θ and ∇ Σ_i L(y_i, f(x_i)) written into `grad`.
    ///
    /// **Panics** if the evaluator was made without gradient buffers.
    pub fn loss_grad(&mut self, theta: &Params<T>, grad: &mut Params<T>) -> Stats {
        let mut stats = [Stats::default()];
        self.group_loss_grad(&[theta], std::slice::from_mut(grad), &mut stats);
        stats[0]
    }

    /// Loss totals of each member at its θ, into `out` (one per member).
    ///
    /// **Panics** if there are more members than the capacity, or `out` is of another length.
    pub fn group_loss(&mut self, members: &[&Params<T>], out: &mut [Stats]) {
        self.evaluate(members, None, out);
    }

    /// Loss totals of each member at its θ and ∇ Σ_i L(y_i, f(x_i)) of each written into
    /// `grads` (one per member).
    ///
    /// **Panics** if the evaluator was made without gradient buffers, if there are more members
    /// than the capacity, or if `grads` or `out` are of another length.
    pub fn group_loss_grad(&mut self, members: &[&Params<T>], grads: &mut [Params<T>], out: &mut [Stats]) {
        assert_eq!(self.grads.len(), self.ranges.len(), "evaluator made without gradient buffers");
        self.evaluate(members, Some(grads), out);
    }

    fn evaluate(&mut self, members: &[&Params<T>], grads: Option<&mut [Params<T>]>, out: &mut [Stats]) {
        let count = members.len();
        assert!(count <= self.capacity, "{count} members in a group of at most {}", self.capacity);
        assert_eq!(out.len(), count, "one set of totals per member");
        self.weights.set_group(members);
        let mut stats = std::mem::take(&mut self.stats);
        let mut chunk_grads = std::mem::take(&mut self.grads);
        let with_gradient = grads.is_some();
        {
            let this = &*self;
            let (data, ranges) = (this.data, &this.ranges);
            let work = |(index, (range, (s, g))): (usize, (&Range<usize>, ChunkBuffers<T>))| {
                let mut ws = this.take_workspace();
                let (x, y) = data.rows(range.clone());
                let s = &mut s[..count];
                match (g, this.lane_chunks.get(index)) {
                    (Some(g), None) => {
                        T::group_loss_grad_chunk(members, &this.weights, x, y, &mut ws, &mut g[..count], s)
                    }
                    (None, None) => T::group_loss_chunk(members, &this.weights, x, y, &mut ws, s),
                    (Some(g), Some(chunk)) => T::lanes_group_loss_grad_chunk(
                        members,
                        &this.weights,
                        chunk,
                        &mut ws,
                        &mut g[..count],
                        s,
                    ),
                    (None, Some(chunk)) => {
                        T::lanes_group_loss_chunk(members, &this.weights, chunk, &mut ws, s)
                    }
                }
                this.give_back(ws);
            };
            if with_gradient {
                ranges
                    .par_iter()
                    .zip(stats.par_iter_mut().zip(chunk_grads.par_iter_mut().map(Some)))
                    .enumerate()
                    .for_each(work);
            } else {
                ranges.par_iter().zip(stats.par_iter_mut().map(|s| (s, None))).enumerate().for_each(work);
            }
        }
        // The fixed-order sums that make results independent of the thread count.
        if let Some(grads) = grads {
            assert_eq!(grads.len(), count, "one gradient per member");
            for (r, grad) in grads.iter_mut().enumerate() {
                grad.as_flat_mut().assign(&chunk_grads[0][r].as_flat());
                for g in &chunk_grads[1..] {
                    grad.add_assign(&g[r]);
                }
            }
        }
        for (r, total) in out.iter_mut().enumerate() {
            *total = Stats::default();
            for s in &stats {
                total.add(&s[r]);
            }
        }
        self.stats = stats;
        self.grads = chunk_grads;
    }
}

/// One chunk's loss totals and, with the gradient, its gradients: one of each per member.
type ChunkBuffers<'a, T> = (&'a mut Vec<Stats>, Option<&'a mut Vec<Params<T>>>);
