"""SMPP 3.4 command_status values. GENERATED from command_status.tsv by
`python -m smsc.smpp.gen_status`: do not edit by hand.
"""

ESME_ROK = 0x00000000
ESME_RINVMSGLEN = 0x00000001
ESME_RINVCMDLEN = 0x00000002
ESME_RINVCMDID = 0x00000003
ESME_RINVBNDSTS = 0x00000004
ESME_RALYBND = 0x00000005
ESME_RINVPRTFLG = 0x00000006
ESME_RINVREGDLVFLG = 0x00000007
ESME_RSYSERR = 0x00000008
ESME_RINVSRCADR = 0x0000000A
ESME_RINVDSTADR = 0x0000000B
ESME_RINVMSGID = 0x0000000C
ESME_RBINDFAIL = 0x0000000D
ESME_RINVPASWD = 0x0000000E
ESME_RINVSYSID = 0x0000000F
ESME_RCANCELFAIL = 0x00000011
ESME_RREPLACEFAIL = 0x00000013
ESME_RMSGQFUL = 0x00000014
ESME_RINVSERTYP = 0x00000015
ESME_RINVNUMDESTS = 0x00000033
ESME_RINVDLNAME = 0x00000034
ESME_RINVDESTFLAG = 0x00000040
ESME_RINVSUBREP = 0x00000042
ESME_RINVESMCLASS = 0x00000043
ESME_RCNTSUBDL = 0x00000044
ESME_RSUBMITFAIL = 0x00000045
ESME_RINVSRCTON = 0x00000048
ESME_RINVSRCNPI = 0x00000049
ESME_RINVDSTTON = 0x00000050
ESME_RINVDSTNPI = 0x00000051
ESME_RINVSYSTYP = 0x00000053
ESME_RINVREPFLAG = 0x00000054
ESME_RINVNUMMSGS = 0x00000055
ESME_RTHROTTLED = 0x00000058
ESME_RINVSCHED = 0x00000061
ESME_RINVEXPIRY = 0x00000062
ESME_RINVDFTMSGID = 0x00000063
ESME_RX_T_APPN = 0x00000064
ESME_RX_P_APPN = 0x00000065
ESME_RX_R_APPN = 0x00000066
ESME_RQUERYFAIL = 0x00000067
ESME_RINVOPTPARSTREAM = 0x000000C0
ESME_ROPTPARNOTALLWD = 0x000000C1
ESME_RINVPARLEN = 0x000000C2
ESME_RMISSINGOPTPARAM = 0x000000C3
ESME_RINVOPTPARAMVAL = 0x000000C4
ESME_RDELIVERYFAILURE = 0x000000FE
ESME_RUNKNOWNERR = 0x000000FF

# value -> (name, description)
STATUS: dict[int, tuple[str, str]] = {
    ESME_ROK: ('ESME_ROK', 'No error'),
    ESME_RINVMSGLEN: ('ESME_RINVMSGLEN', 'Message length is invalid'),
    ESME_RINVCMDLEN: ('ESME_RINVCMDLEN', 'Command length is invalid'),
    ESME_RINVCMDID: ('ESME_RINVCMDID', 'Invalid command ID'),
    ESME_RINVBNDSTS: ('ESME_RINVBNDSTS', 'Incorrect bind status for given command'),
    ESME_RALYBND: ('ESME_RALYBND', 'ESME already in bound state'),
    ESME_RINVPRTFLG: ('ESME_RINVPRTFLG', 'Invalid priority flag'),
    ESME_RINVREGDLVFLG: ('ESME_RINVREGDLVFLG', 'Invalid registered delivery flag'),
    ESME_RSYSERR: ('ESME_RSYSERR', 'System error'),
    ESME_RINVSRCADR: ('ESME_RINVSRCADR', 'Invalid source address'),
    ESME_RINVDSTADR: ('ESME_RINVDSTADR', 'Invalid destination address'),
    ESME_RINVMSGID: ('ESME_RINVMSGID', 'Message ID is invalid'),
    ESME_RBINDFAIL: ('ESME_RBINDFAIL', 'Bind failed'),
    ESME_RINVPASWD: ('ESME_RINVPASWD', 'Invalid password'),
    ESME_RINVSYSID: ('ESME_RINVSYSID', 'Invalid system ID'),
    ESME_RCANCELFAIL: ('ESME_RCANCELFAIL', 'Cancel SM failed'),
    ESME_RREPLACEFAIL: ('ESME_RREPLACEFAIL', 'Replace SM failed'),
    ESME_RMSGQFUL: ('ESME_RMSGQFUL', 'Message queue full'),
    ESME_RINVSERTYP: ('ESME_RINVSERTYP', 'Invalid service type'),
    ESME_RINVNUMDESTS: ('ESME_RINVNUMDESTS', 'Invalid number of destinations'),
    ESME_RINVDLNAME: ('ESME_RINVDLNAME', 'Invalid distribution list name'),
    ESME_RINVDESTFLAG: ('ESME_RINVDESTFLAG', 'Destination flag is invalid (submit_multi)'),
    ESME_RINVSUBREP: ('ESME_RINVSUBREP', 'Invalid submit with replace request'),
    ESME_RINVESMCLASS: ('ESME_RINVESMCLASS', 'Invalid esm_class field data'),
    ESME_RCNTSUBDL: ('ESME_RCNTSUBDL', 'Cannot submit to distribution list'),
    ESME_RSUBMITFAIL: ('ESME_RSUBMITFAIL', 'submit_sm or submit_multi failed'),
    ESME_RINVSRCTON: ('ESME_RINVSRCTON', 'Invalid source address TON'),
    ESME_RINVSRCNPI: ('ESME_RINVSRCNPI', 'Invalid source address NPI'),
    ESME_RINVDSTTON: ('ESME_RINVDSTTON', 'Invalid destination address TON'),
    ESME_RINVDSTNPI: ('ESME_RINVDSTNPI', 'Invalid destination address NPI'),
    ESME_RINVSYSTYP: ('ESME_RINVSYSTYP', 'Invalid system_type field'),
    ESME_RINVREPFLAG: ('ESME_RINVREPFLAG', 'Invalid replace_if_present flag'),
    ESME_RINVNUMMSGS: ('ESME_RINVNUMMSGS', 'Invalid number of messages'),
    ESME_RTHROTTLED: ('ESME_RTHROTTLED', 'Throttling error (ESME has exceeded allowed message limits)'),
    ESME_RINVSCHED: ('ESME_RINVSCHED', 'Invalid scheduled delivery time'),
    ESME_RINVEXPIRY: ('ESME_RINVEXPIRY', 'Invalid message validity period (expiry time)'),
    ESME_RINVDFTMSGID: ('ESME_RINVDFTMSGID', 'Predefined message invalid or not found'),
    ESME_RX_T_APPN: ('ESME_RX_T_APPN', 'ESME receiver temporary app error code'),
    ESME_RX_P_APPN: ('ESME_RX_P_APPN', 'ESME receiver permanent app error code'),
    ESME_RX_R_APPN: ('ESME_RX_R_APPN', 'ESME receiver reject message error code'),
    ESME_RQUERYFAIL: ('ESME_RQUERYFAIL', 'query_sm request failed'),
    ESME_RINVOPTPARSTREAM: ('ESME_RINVOPTPARSTREAM', 'Error in the optional part of the PDU body'),
    ESME_ROPTPARNOTALLWD: ('ESME_ROPTPARNOTALLWD', 'Optional parameter not allowed'),
    ESME_RINVPARLEN: ('ESME_RINVPARLEN', 'Invalid parameter length'),
    ESME_RMISSINGOPTPARAM: ('ESME_RMISSINGOPTPARAM', 'Expected optional parameter missing'),
    ESME_RINVOPTPARAMVAL: ('ESME_RINVOPTPARAMVAL', 'Invalid optional parameter value'),
    ESME_RDELIVERYFAILURE: ('ESME_RDELIVERYFAILURE', 'Delivery failure (data_sm_resp)'),
    ESME_RUNKNOWNERR: ('ESME_RUNKNOWNERR', 'Unknown error'),
}


def status_name(value: int) -> str:
    entry = STATUS.get(value)
    return entry[0] if entry else f"0x{value:08X}"


def parse_status(text: str | int) -> int:
    """A command_status from its ESME_R* name or its number (decimal or 0x hex)."""
    if isinstance(text, int):
        return text
    if text.upper().startswith("ESME_"):
        value = globals().get(text.upper())
        if not isinstance(value, int):
            raise ValueError(f"no command_status named {text}")
        return value
    return int(text, 0)
