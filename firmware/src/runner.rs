//! Inference over a caller-provided arena: no allocation, no panics.
//!
//! Activations ping-pong between two halves of the arena: layer 0 reads the caller's input
//! and writes buffer A, layer 1 reads A and writes B, and so on; the final layer writes i32
//! logits into the caller's `logits` slice. [`arena_bytes`] is the exact requirement.

use crate::backend::{Backend, ConvArgs, DenseArgs, DenseOut, DensePArgs};
use crate::model::{align4, LayerKind, Model, Shape, MAX_LAYERS};
use crate::numerics::argmax;
use core::fmt;

/// Arena bytes [`run`] needs for `model`: two buffers of the largest hidden activation, each
/// rounded up to a multiple of 4 bytes, plus 3 bytes of slack so both buffers start 4-aligned
/// wherever the arena is; 0 for a single-layer model.
pub fn arena_bytes(model: &Model<'_>) -> usize {
    let max = model.max_activation();
    if max == 0 {
        0
    } else {
        2 * align4(max) + 3
    }
}

/// A layer's output as handed to an [`Observer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerOutput<'a> {
    /// u8 activations `[h][w][c]` of a hidden layer.
    Activations(&'a [u8]),
    /// i32 logits of the final layer.
    Logits(&'a [i32]),
}

/// What [`run`] reports about one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Layer index.
    pub index: usize,
    /// Kind and sizes.
    pub kind: LayerKind,
    /// Output shape.
    pub output: Shape,
    /// Multiply-accumulates (P layers: shift-adds) executed.
    pub macs: u64,
    /// Cycles spent, if the observer provides a counter ([`Observer::cycles`]).
    pub cycles: Option<u64>,
}

const NO_LAYER: LayerInfo = LayerInfo {
    index: 0,
    kind: LayerKind::Dense { n_in: 0, n_out: 0 },
    output: Shape { h: 0, w: 0, c: 0 },
    macs: 0,
    cycles: None,
};

/// The result of one inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// Predicted class: index of the first maximum logit.
    pub class: usize,
    n_layers: usize,
    layers: [LayerInfo; MAX_LAYERS],
}

impl RunInfo {
    /// An empty result (no layers), for [`run_into`] to fill.
    pub const fn new() -> RunInfo {
        RunInfo {
            class: 0,
            n_layers: 0,
            layers: [NO_LAYER; MAX_LAYERS],
        }
    }
    /// Per-layer information, in layer order.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers[..self.n_layers]
    }
    /// Sets layer `i`'s cycles (a layer [`run_into`] reported; others are ignored): for a
    /// caller that re-ran the same layers another way (the SoC firmware's replay of the
    /// engine runs, `AccelBackend::replay_all`).
    pub fn set_layer_cycles(&mut self, i: usize, cycles: u64) {
        if let Some(l) = self.layers[..self.n_layers].get_mut(i) {
            l.cycles = Some(cycles);
        }
    }
    /// Sum of the per-layer cycle counts (`None` without a counter).
    pub fn total_cycles(&self) -> Option<u64> {
        self.layers().iter().map(|l| l.cycles).sum()
    }
}

/// Hooks called by [`run`] around every layer. All methods default to doing nothing, so
/// `&mut ()` is the no-op observer.
pub trait Observer {
    /// Cycle-count hook: read a free-running counter (e.g. the SoC's `SYS.CYCLES`). Called before and after
    /// every layer; the difference lands in [`LayerInfo::cycles`]. `None` disables timing.
    fn cycles(&mut self) -> Option<u64> {
        None
    }
    /// Called before layer `index` runs (after the cycle read).
    fn layer_start(&mut self, _index: usize) {}
    /// Whether [`LayerInfo::macs`] is wanted (0 otherwise): a P layer's count scans its
    /// entries, ~3 M cycles per image on the board's bit-serial CPU for the shipped model.
    fn wants_macs(&self) -> bool {
        true
    }
    /// Called after every layer with its output (the host writes golden vectors from here).
    fn layer_done(&mut self, _info: &LayerInfo, _output: LayerOutput<'_>) {}
}

impl Default for RunInfo {
    fn default() -> RunInfo {
        RunInfo::new()
    }
}

impl Observer for () {}

/// Inference failures. Everything about the model itself was checked by the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError<E> {
    /// `input.len()` differs from the model's `h * w * c`.
    InputLen {
        /// Bytes the model expects.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// `logits.len()` differs from the number of classes.
    LogitsLen {
        /// Number of classes.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The arena is smaller than [`arena_bytes`].
    ArenaTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        have: usize,
    },
    /// Internal inconsistency between a layer and its buffers; unreachable for a model from
    /// [`Model::parse`] (kept as an error so that `run` has no panic path).
    Internal {
        /// Layer index.
        layer: usize,
    },
    /// The backend failed on a layer.
    Backend {
        /// Layer index.
        layer: usize,
        /// The backend's error.
        error: E,
    },
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::InputLen { expected, got } => {
                write!(f, "input has {got} bytes, model expects {expected}")
            }
            RunError::LogitsLen { expected, got } => {
                write!(
                    f,
                    "logits buffer has {got} entries, model has {expected} classes"
                )
            }
            RunError::ArenaTooSmall { need, have } => {
                write!(f, "arena too small: need {need} bytes, have {have}")
            }
            RunError::Internal { layer } => write!(f, "layer {layer}: internal inconsistency"),
            RunError::Backend { layer, error } => write!(f, "layer {layer}: {error}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for RunError<E> {}

/// Runs `model` on `input` (`[h][w][c]` u8 pixels), writing the logits into `logits`
/// (`n_classes` entries) and returning the class (first maximum) and per-layer information.
/// [`run_into`] does the same into a caller's [`RunInfo`].
pub fn run<B: Backend + ?Sized, O: Observer + ?Sized>(
    model: &Model<'_>,
    input: &[u8],
    arena: &mut [u8],
    backend: &mut B,
    logits: &mut [i32],
    observer: &mut O,
) -> Result<RunInfo, RunError<B::Error>> {
    let mut info = RunInfo::new();
    run_into(model, input, arena, backend, logits, observer, &mut info)?;
    Ok(info)
}

/// [`run`] with the result written into `info` (its previous contents replaced; on an error
/// it holds the layers up to the failing one): the SoC firmware keeps one [`RunInfo`] (~900 bytes) in
/// place instead of moving it, which the soft-core does byte by byte.
pub fn run_into<B: Backend + ?Sized, O: Observer + ?Sized>(
    model: &Model<'_>,
    input: &[u8],
    arena: &mut [u8],
    backend: &mut B,
    logits: &mut [i32],
    observer: &mut O,
    info: &mut RunInfo,
) -> Result<(), RunError<B::Error>> {
    let in_len = model
        .layer_ref(0)
        .map_or_else(|| model.input_shape().len(), |l| l.in_len);
    if input.len() != in_len {
        return Err(RunError::InputLen {
            expected: in_len,
            got: input.len(),
        });
    }
    if logits.len() != model.n_classes() {
        return Err(RunError::LogitsLen {
            expected: model.n_classes(),
            got: logits.len(),
        });
    }
    let need = arena_bytes(model);
    if arena.len() < need {
        return Err(RunError::ArenaTooSmall {
            need,
            have: arena.len(),
        });
    }
    let buf = align4(model.max_activation());
    let pad = (4 - arena.as_ptr() as usize % 4) % 4;
    let (a, b) = if need == 0 {
        (&mut [][..], &mut [][..])
    } else {
        arena[pad..pad + 2 * buf].split_at_mut(buf)
    };

    info.class = 0;
    info.n_layers = 0;
    // by reference: moving each ~90-byte `Layer` is a byte copy on the soft-core
    let mut i = 0;
    while let Some(layer) = model.layer_ref(i) {
        let (n_src, n_dst) = (layer.in_len, layer.out_len);
        let (src, dst): (&[u8], &mut [u8]) = if i == 0 {
            (input, &mut *a)
        } else if i % 2 == 1 {
            (&*a, &mut *b)
        } else {
            (&*b, &mut *a)
        };
        let internal = || RunError::Internal { layer: i };
        let src = src.get(..n_src).ok_or_else(internal)?;
        // before the timed region: counting a P layer's non-zero weights scans its entries
        let macs = if observer.wants_macs() {
            layer.macs()
        } else {
            0
        };
        // written in place, field by field: a struct literal is built on the stack and
        // copied, a 72-byte memcpy per layer on the soft-core
        let li = info.layers.get_mut(i).ok_or_else(internal)?;
        li.index = i;
        li.kind = layer.kind;
        li.output = layer.output;
        li.macs = macs;
        li.cycles = None;
        info.n_layers = i + 1;
        let t0 = observer.cycles();
        observer.layer_start(i);
        let be = |error| RunError::Backend { layer: i, error };
        if layer.is_final {
            let out = DenseOut::Logits(&mut *logits);
            dense_layer(backend, layer, src, out).map_err(be)?;
            li.cycles = elapsed(t0, observer.cycles());
            observer.layer_done(li, LayerOutput::Logits(logits));
        } else {
            let dst = dst.get_mut(..n_dst).ok_or_else(internal)?;
            let rq = layer.rq.ok_or_else(internal)?;
            match layer.kind {
                LayerKind::Conv { k, cout, pool, .. } => {
                    let args = ConvArgs {
                        input: src,
                        in_shape: layer.input,
                        k: usize::from(k),
                        cout,
                        pool,
                        weights: layer.weights,
                        bias: layer.bias,
                        rq,
                    };
                    backend.conv(&args, dst).map_err(be)?;
                }
                _ => dense_layer(backend, layer, src, DenseOut::Act { rq, out: &mut *dst })
                    .map_err(be)?,
            }
            li.cycles = elapsed(t0, observer.cycles());
            observer.layer_done(li, LayerOutput::Activations(dst));
        }
        i += 1;
    }
    info.class = argmax(logits).unwrap_or(0);
    Ok(())
}

fn elapsed(t0: Option<u64>, t1: Option<u64>) -> Option<u64> {
    Some(t1?.wrapping_sub(t0?))
}

fn dense_layer<B: Backend + ?Sized>(
    backend: &mut B,
    layer: &crate::model::Layer<'_>,
    src: &[u8],
    out: DenseOut<'_>,
) -> Result<(), B::Error> {
    match layer.kind {
        LayerKind::DenseP { bits, .. } => backend.dense_p(
            &DensePArgs {
                input: src,
                entries: layer.entries,
                row_len: layer.row_len,
                bits,
                bias: layer.bias,
            },
            out,
        ),
        _ => backend.dense(
            &DenseArgs {
                input: src,
                weights: layer.weights,
                bias: layer.bias,
            },
            out,
        ),
    }
}
