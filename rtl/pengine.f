# P-layer engine, standalone (sim/build.rs model "pengine", `rtl/synth_check.sh pengine`);
# included by rtl/board/icebreaker/soc_rtl.f. Format: filelist/src/lib.rs.
rtl/gen/accel_pkg.sv
rtl/pengine/pengine_requant.sv
rtl/pengine/pengine.sv
