# Sources of the iCEBreaker build, in read order (yosys `read_verilog -defer -sv`), relative to
# the repository root; `$PICORV32/` and `$SERV/` are the venv's pythondata_cpu_picorv32 and
# pythondata_cpu_serv data directories (`.venv/bin/python -c "import pythondata_cpu_serv as p;
# print(p.data_location)"`, or $PICORV32_DIR, $SERV_DIR). The board SoC (soc_rtl.f, which the simulation reads too) plus the board top.
# Every file listed here is hashed into the place-and-route cache key. Format: filelist/src/lib.rs.
-f rtl/board/icebreaker/soc_rtl.f
rtl/board/icebreaker/icebreaker_top.sv
$PICORV32/picorv32.v
$SERV/rtl/serv_bufreg.v
$SERV/rtl/serv_bufreg2.v
$SERV/rtl/serv_alu.v
$SERV/rtl/serv_csr.v
$SERV/rtl/serv_ctrl.v
$SERV/rtl/serv_decode.v
$SERV/rtl/serv_immdec.v
$SERV/rtl/serv_mem_if.v
$SERV/rtl/serv_rf_if.v
$SERV/rtl/serv_rf_ram_if.v
$SERV/rtl/serv_rf_ram.v
$SERV/rtl/serv_state.v
$SERV/rtl/serv_aligner.v
$SERV/rtl/serv_compdec.v
$SERV/rtl/serv_top.v
$SERV/rtl/serv_rf_top.v
