# P-layer engine, standalone (sim/build.rs model "pengine").
rtl/gen/accel_pkg.sv
rtl/pengine/pengine_requant.sv
rtl/pengine/pengine.sv
