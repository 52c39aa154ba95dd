# The soft-cores, third-party RTL from the pinned PyPI wheels in the project venv (never copied
# into the repo): PicoRV32 (`$PICORV32/`, pythondata-cpu-picorv32) and SERV (`$SERV/`,
# pythondata-cpu-serv; soc_core's `Cpu` picks one). Read by the simulation's rtl/soc.f and the
# bitstream's rtl/board/icebreaker/sources.f. Format: filelist/src/lib.rs.
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
