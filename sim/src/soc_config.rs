//! The named SoC configurations of the simulation (`cnnfpga sim --board NAME`): which Verilated
//! build of `rtl/soc/sim/soc_sim_top.sv` runs. The board's comes first and is the default; its
//! parameters are the accel_pkg `BOARD_*` values of rtl/regmap/accel.toml, the same the
//! bitstream is built with.

/// A named SoC configuration of the simulation (`cnnfpga sim --board NAME`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SocConfig {
    /// The iCEBreaker build exactly as `cnnfpga fpga build` synthesises it: the accel_pkg
    /// `BOARD_*` parameters (CPU: SERV, conv lanes, FIFO depth, P engine, UART divider).
    #[default]
    Icebreaker,
    /// The board SoC with PicoRV32 and its single-cycle multiplier instead of SERV (4 DSPs on
    /// the UP5K; does not fit next to the board's engines). The shipped firmware is `riscv32i` and never
    /// uses it (its products are calls, [`crate::soc::TARGET`]); the kernels benchmark runs
    /// the `riscv32im` build here ([`crate::soc::TARGET_MUL`]).
    IcebreakerFastMul,
    /// The PicoRV32 reference: PicoRV32 (the `BOARD_CPU_*` shape: no multiplier) and the
    /// board's UART with the accel_pkg default engines (`LANES`-lane conv engine with the
    /// `FETCH_FIFO_DEPTH` FIFO, the P engine), which do not fit the UP5K next to PicoRV32.
    Wide,
}

impl SocConfig {
    /// Every configuration, the board's first.
    pub const ALL: [SocConfig; 3] = [
        SocConfig::Icebreaker,
        SocConfig::IcebreakerFastMul,
        SocConfig::Wide,
    ];

    /// The name users pass (`icebreaker`, `icebreaker-fastmul`, `wide`).
    pub fn name(self) -> &'static str {
        match self {
            SocConfig::Icebreaker => "icebreaker",
            SocConfig::IcebreakerFastMul => "icebreaker-fastmul",
            SocConfig::Wide => "wide",
        }
    }

    /// The configuration called `name`, if any.
    pub fn from_name(name: &str) -> Option<SocConfig> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The CPU: `SERV` (the board's, accel_pkg `BOARD_CPU`) or `PicoRV32`.
    pub fn cpu(self) -> &'static str {
        match self {
            SocConfig::Icebreaker if firmware::regs::BOARD_CPU == firmware::regs::CPU_SERV => {
                "SERV"
            }
            _ => "PicoRV32",
        }
    }

    /// Conv engine lanes, conv fetch FIFO depth and whether the P engine is present.
    pub fn engines(self) -> (usize, usize, bool) {
        use firmware::regs as r;
        match self {
            SocConfig::Icebreaker | SocConfig::IcebreakerFastMul => (
                r::BOARD_CONV_LANES,
                r::BOARD_FETCH_FIFO_DEPTH,
                r::BOARD_ENABLE_PENGINE != 0,
            ),
            SocConfig::Wide => (r::LANES, r::FETCH_FIFO_DEPTH, true),
        }
    }
}

impl std::fmt::Display for SocConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
