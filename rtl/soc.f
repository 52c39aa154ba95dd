# SoC simulation top (sim/build.rs model "soc"): the board SoC, the stand-ins for the vendor
# primitives and the flash chip, the CPUs (PicoRV32, SERV). `$PICORV32/` and `$SERV/` are the
# pythondata-cpu-picorv32 and pythondata-cpu-serv verilog directories in the project venv (or
# $PICORV32_DIR, $SERV_DIR), never copied into the repo.
# Format: filelist/src/lib.rs.
-f rtl/board/icebreaker/soc_rtl.f
rtl/soc/sim/SB_SPRAM256KA.sv
rtl/soc/sim/spi_flash_model.sv
rtl/soc/sim/soc_sim_top.sv
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
