//! The standalone Verilated engines as a `firmware::backend::Backend`: conv layers on the conv
//! engine ([`crate::conv::Engine`], shipped parameters), P layers on the P engine
//! ([`crate::pengine::PEngine`]), NP dense layers (the head) on the P engine too, as the P layer
//! of their signed-digit decomposition (`firmware::kernels::DenseAsP`), as on the SoC
//! (`firmware::accel::AccelBackend` does the same; a layer whose P layer exceeds the engine's
//! limits runs in software). With `firmware::runner::run` this runs a whole model layer by layer
//! on the RTL without the soft-core: the golden-vector and RTL-vs-float tests use it (much
//! faster than the SoC, same engine bits).

use firmware::backend::{
    ArgsError, Backend, ConvArgs, DenseArgs, DenseOut, DensePArgs, SoftwareBackend,
};
use firmware::kernels::DenseAsP;
use firmware::numerics::Requant;

use crate::conv::{DefaultModel, Engine, EnginePorts};
use crate::layer::ConvLayer;
use crate::pengine::{PEngine, PLayer};

/// Which engine ran a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ran {
    /// The Verilated conv engine.
    ConvEngine,
    /// The Verilated P engine (P layers, and NP dense layers as their P layer).
    PEngine,
    /// Software (`firmware::backend::SoftwareBackend`): a layer no engine takes (an NP dense
    /// layer whose P layer exceeds the P engine's limits).
    Software,
}

/// Conv and P engines (Verilated) behind the firmware's backend seam.
pub struct EngineBackend {
    conv: Engine<DefaultModel>,
    pengine: PEngine,
    /// The engine of every layer run so far, in order.
    pub ran: Vec<Ran>,
    /// Engine clock cycles of every engine layer run so far.
    pub cycles: u64,
}

impl EngineBackend {
    /// Fresh engines under SoC memory timing; fails with the setup hint without Verilator.
    pub fn new(seed: u64) -> Result<Self, String> {
        Ok(EngineBackend {
            conv: Engine::new(seed)?,
            pengine: PEngine::new(seed ^ 0x5A)?,
            ran: Vec::new(),
            cycles: 0,
        })
    }
}

fn requants(rq: &firmware::model::RequantParams<'_>) -> Vec<Requant> {
    rq.iter().collect()
}

impl Backend for EngineBackend {
    type Error = String;

    fn conv(&mut self, a: &ConvArgs<'_>, out: &mut [u8]) -> Result<(), String> {
        let layer = ConvLayer {
            ih: a.in_shape.h,
            iw: a.in_shape.w,
            cin: a.in_shape.c,
            cout: a.cout,
            k: a.k,
            pool: a.pool,
            input: a.input.to_vec(),
            weights: a.weights.to_vec(),
            bias: a.bias.iter().collect(),
            rq: requants(&a.rq),
        };
        // the engine's limits (as RtlBackend::supports): kernel, weight buffer, registers
        let fits = layer.k <= DefaultModel::KMAX
            && layer.k * layer.k * layer.cin <= DefaultModel::WBUF_DEPTH
            && firmware::accel::conv_shape_regs(
                layer.ih, layer.iw, layer.cin, layer.cout, layer.k, layer.pool,
            )
            .is_some();
        if !fits {
            return Err(format!(
                "conv layer {}x{}x{} k{} cout {} exceeds the conv engine",
                layer.ih, layer.iw, layer.cin, layer.k, layer.cout
            ));
        }
        let r = self.conv.run(&layer)?;
        if r.status != firmware::regs::conv::STATUS_DONE_MASK {
            return Err(format!("conv engine STATUS {:#x}", r.status));
        }
        if out.len() != r.output.len() {
            return Err(ArgsError::Len {
                what: "conv output",
                expected: r.output.len(),
                got: out.len(),
            }
            .to_string());
        }
        out.copy_from_slice(&r.output);
        self.ran.push(Ran::ConvEngine);
        self.cycles += u64::from(r.cycles);
        Ok(())
    }

    fn dense(&mut self, a: &DenseArgs<'_>, out: DenseOut<'_>) -> Result<(), String> {
        // the layer's P layer, built here per call (the SoC builds it once per model)
        let (n_in, n_out) = (a.input.len(), a.bias.len());
        let mut store = vec![0u8; firmware::kernels::dense_as_p_bound(n_in, n_out)];
        if let Ok((mut t, _)) = DenseAsP::build(a.weights, n_in, n_out, &mut store) {
            if let Some(p) = t.p_layer(a) {
                return self.dense_p(&p, out);
            }
        }
        self.ran.push(Ran::Software);
        SoftwareBackend.dense(a, out).map_err(|e| e.to_string())
    }

    fn dense_p(&mut self, a: &DensePArgs<'_>, out: DenseOut<'_>) -> Result<(), String> {
        let n_out = a.row_len.len();
        let (fin, rq) = match &out {
            DenseOut::Act { rq, .. } => (false, requants(rq)),
            DenseOut::Logits(_) => (true, vec![Requant { m: 0, shift: 1 }; n_out]),
        };
        let layer = PLayer {
            bits: a.bits,
            input: a.input.to_vec(),
            entries: a.entries.to_vec(),
            row_len: a.row_len.iter().collect(),
            bias: a.bias.iter().collect(),
            rq,
            fin,
        };
        let r = self.pengine.run(&layer)?;
        if r.status != firmware::regs::pengine::STATUS_DONE_MASK {
            return Err(format!("P engine STATUS {:#x}", r.status));
        }
        match out {
            DenseOut::Act { out, .. } if out.len() == r.output.len() => {
                out.copy_from_slice(&r.output)
            }
            DenseOut::Logits(l) if 4 * l.len() == r.output.len() => {
                for (d, s) in l.iter_mut().zip(r.output.chunks_exact(4)) {
                    *d = i32::from_le_bytes(s.try_into().expect("4 bytes"));
                }
            }
            _ => return Err("P layer output length".into()),
        }
        self.ran.push(Ran::PEngine);
        self.cycles += u64::from(r.cycles);
        Ok(())
    }
}
