# The conv engine (sim/build.rs models "conv_engine*", `rtl/synth_check.sh conv`); included by
# rtl/board/icebreaker/soc_rtl.f. Format: filelist/src/lib.rs.
rtl/gen/accel_pkg.sv
rtl/accel/conv_pkg.sv
rtl/accel/conv_wbuf.sv
rtl/accel/conv_lane.sv
rtl/accel/conv_fetch.sv
rtl/accel/conv_agen.sv
rtl/accel/conv_post.sv
rtl/accel/conv_engine.sv
