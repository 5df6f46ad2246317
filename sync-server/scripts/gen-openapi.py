import json
hexid = lambda n, d: {"type": "string", "pattern": f"^[0-9a-f]{{{n*2}}}$", "description": d}
b64 = lambda d: {"type": "string", "format": "byte", "description": d}
ref = lambda n: {"$ref": f"#/components/schemas/{n}"}
u64 = {"type": "integer", "format": "int64", "minimum": 0}
codes = [("invalid_json",400),("invalid_request",400),("invalid_batch",400),("invalid_snapshot",400),("unsupported_protocol",400),("unsupported_format",400),("weak_kdf_params",400),("cursor_ahead",400),("missing_token",401),("invalid_token",401),("invalid_credentials",401),("device_signed_out",401),("account_mismatch",403),("device_mismatch",403),("not_found",404),("unknown_device",404),("no_snapshot",404),("method_not_allowed",405),("account_exists",409),("device_revoked",409),("too_many_devices",409),("key_mismatch",409),("batch_id_reused",409),("seq_conflict",409),("seq_gap",409),("chain_mismatch",409),("snapshot_stale",409),("cursor_compacted",410),("payload_too_large",413),("batch_too_large",413),("rate_limited",429),("too_many_sockets",429),("storage_unavailable",503)]
status_of = dict(codes)
schemas = {
 "ApiError": {"type":"object","required":["code","message"],"properties":{
   "code":{"type":"string","enum":[c for c,_ in codes],"description":"Stable; clients branch on it, never on message."},
   "message":{"type":"string"},
   "details":{"type":"object","description":"Context for some codes: seq_gap/seq_conflict/chain_mismatch carry device_head {seq, hash}; cursor_ahead carries head; cursor_compacted carries compacted_through and snapshot_cursor."}}},
 "KdfParams": {"type":"object","required":["salt","m_kib","t","p"],"additionalProperties":False,"properties":{
   "salt":b64("16 bytes"),"m_kib":{"type":"integer","minimum":65536,"maximum":1048576},"t":{"type":"integer","minimum":3,"maximum":16},"p":{"type":"integer","minimum":1,"maximum":8}}},
 "Head": {"type":"object","required":["seq","hash"],"properties":{"seq":u64,"hash":hexid(32,"chain hash")}},
 "BatchEnvelope": {"type":"object","additionalProperties":False,"required":["batch_id","account","device","seq","format","key_id","prev","nonce","ciphertext"],"properties":{
   "batch_id":hexid(16,"client-chosen; the idempotency key"),"account":hexid(16,"must be the token's account"),"device":hexid(16,"must be the token's device"),
   "seq":{"type":"integer","minimum":1,"description":"the device's next batch: its head + 1"},"format":{"type":"integer","enum":[1]},"key_id":hexid(16,"must be the account's key id"),
   "prev":hexid(32,"chain hash of the device's previous batch; zeros for seq 1"),"nonce":b64("24 bytes"),"ciphertext":b64("XChaCha20-Poly1305 output, at least 16 bytes, at most limits.max_batch_bytes")}},
 "PushRequest": {"type":"object","additionalProperties":False,"required":["batches"],"properties":{"batches":{"type":"array","minItems":1,"maxItems":100,"items":ref("BatchEnvelope"),"description":"consecutive batches of the token's device (at most limits.max_batches_per_push); stored all or nothing"}}},
 "PushResult": {"type":"object","required":["batch_id","seq","cursor","duplicate"],"properties":{"batch_id":hexid(16,""),"seq":u64,"cursor":u64,"duplicate":{"type":"boolean","description":"stored by an earlier push of the same bytes"}}},
 "PushResponse": {"type":"object","required":["results","head"],"properties":{"results":{"type":"array","items":ref("PushResult")},"head":u64}},
 "PulledBatch": {"type":"object","required":["cursor","batch"],"properties":{"cursor":u64,"batch":ref("BatchEnvelope")}},
 "PullPage": {"type":"object","required":["batches","next","more","head","devices","snapshot_wanted"],"properties":{
   "batches":{"type":"array","items":ref("PulledBatch"),"description":"after the cursor, in cursor order, the caller's own left out"},
   "next":u64,"more":{"type":"boolean"},"head":u64,
   "devices":{"type":"object","additionalProperties":ref("Head"),"description":"every device's chain head at head, keyed by device id"},
   "snapshot_wanted":{"type":"boolean"}}},
 "SnapshotEnvelope": {"type":"object","additionalProperties":False,"required":["snapshot_id","account","device","cursor","format","key_id","nonce","ciphertext"],"properties":{
   "snapshot_id":hexid(16,""),"account":hexid(16,""),"device":hexid(16,"the sealing device; must be the token's"),"cursor":u64,"format":{"type":"integer","enum":[1]},"key_id":hexid(16,""),"nonce":b64("24 bytes"),"ciphertext":b64("at most limits.max_snapshot_bytes")}},
 "SnapshotStored": {"type":"object","required":["cursor","compacted_through"],"properties":{"cursor":u64,"compacted_through":u64}},
 "RecoveryWrap": {"type":"object","additionalProperties":False,"required":["proof","wrapped_key"],"properties":{"proof":b64("32 bytes"),"wrapped_key":b64("72 bytes")}},
 "ParamsRequest": {"type":"object","additionalProperties":False,"required":["login_id"],"properties":{"login_id":hexid(32,"SHA-256 of the normalised email with the login-id label")}},
 "ParamsResponse": {"type":"object","required":["kdf"],"properties":{"kdf":ref("KdfParams")}},
 "SignupRequest": {"type":"object","additionalProperties":False,"required":["login_id","account_id","kdf","login_secret","key_id","wrapped_key","device_id"],"properties":{
   "login_id":hexid(32,""),"account_id":hexid(16,"chosen by the client"),"kdf":ref("KdfParams"),"login_secret":b64("32 bytes; stored only as an Argon2id hash"),
   "key_id":hexid(16,""),"wrapped_key":b64("72 bytes: nonce ‖ sealed sync key"),"recovery":{"allOf":[ref("RecoveryWrap")],"nullable":True},"device_id":hexid(16,""),"device_name":b64("sealed, 40–104 bytes")}},
 "LoginRequest": {"type":"object","additionalProperties":False,"required":["login_id","login_secret","device_id"],"properties":{"login_id":hexid(32,""),"login_secret":b64("32 bytes"),"device_id":hexid(16,"new random id, or this device's own id to re-issue its token")}},
 "RecoverRequest": {"type":"object","additionalProperties":False,"required":["login_id","recovery_proof","device_id"],"properties":{"login_id":hexid(32,""),"recovery_proof":b64("32 bytes"),"device_id":hexid(16,"")}},
 "Session": {"type":"object","required":["account_id","device_id","token","key_id","wrapped_key"],"properties":{"account_id":hexid(16,""),"device_id":hexid(16,""),"token":{"type":"string","description":"pps_…; shown once, stored hashed"},"key_id":hexid(16,""),"wrapped_key":b64("the wrap the presented secret opens")}},
 "AccountInfo": {"type":"object","properties":{"account_id":hexid(16,""),"key_id":hexid(16,""),"kdf":ref("KdfParams"),"head":u64,"has_recovery":{"type":"boolean"},"snapshot_cursor":{"type":"integer","nullable":True},"compacted_through":u64,"created_at":{"type":"integer","description":"unix seconds"}}},
 "Proof": {"oneOf":[{"type":"object","required":["login_secret"],"properties":{"login_secret":b64("32 bytes")}},{"type":"object","required":["recovery_proof"],"properties":{"recovery_proof":b64("32 bytes")}}]},
 "PassphraseChange": {"type":"object","additionalProperties":False,"required":["proof","kdf","login_secret","wrapped_key"],"properties":{"proof":ref("Proof"),"kdf":ref("KdfParams"),"login_secret":b64("32 bytes"),"wrapped_key":b64("72 bytes"),"sign_out_other_devices":{"type":"boolean","default":False}}},
 "RecoveryChange": {"type":"object","additionalProperties":False,"required":["login_secret","recovery"],"properties":{"login_secret":b64("32 bytes"),"recovery":{"allOf":[ref("RecoveryWrap")],"nullable":True}}},
 "DeleteAccount": {"type":"object","additionalProperties":False,"required":["login_secret"],"properties":{"login_secret":b64("32 bytes")}},
 "DeviceInfo": {"type":"object","properties":{"device_id":hexid(16,""),"name":b64("sealed; open with the sync key"),"created_at":{"type":"integer"},"last_seen_at":{"type":"integer"},"signed_out":{"type":"boolean"},"current":{"type":"boolean"},"head":u64}},
 "DeviceList": {"type":"object","required":["devices"],"properties":{"devices":{"type":"array","items":ref("DeviceInfo")}}},
 "DeviceName": {"type":"object","additionalProperties":False,"required":["name"],"properties":{"name":b64("sealed, 40–104 bytes")}},
 "SignOutAll": {"type":"object","additionalProperties":False,"properties":{"include_current":{"type":"boolean","default":False}}},
 "Limits": {"type":"object","properties":{k:u64 for k in ["max_request_bytes","max_batch_bytes","max_batches_per_push","max_page_batches","max_snapshot_bytes","max_devices"]},
   "example":{"max_request_bytes":8388608,"max_batch_bytes":1048576,"max_batches_per_push":100,"max_page_batches":1000,"max_snapshot_bytes":67108864,"max_devices":100}},
 "Info": {"type":"object","properties":{"protocol":{"type":"integer","enum":[1]},"formats":{"type":"array","items":{"type":"integer"}},"limits":ref("Limits")}},
 "Notice": {"oneOf":[{"type":"object","required":["type","head"],"properties":{"type":{"type":"string","enum":["head"]},"head":u64}},{"type":"object","required":["type"],"properties":{"type":{"type":"string","enum":["signed_out"]}}}]},
}
def op(summary, req=None, ok=("200", None, "OK"), errs=(), auth=True, desc=None):
    o = {"summary": summary}
    if desc: o["description"] = desc
    if auth: o["security"] = [{"device_token": []}]
    if req: o["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(req)}}}
    code, schema, d = ok
    r = {code: {"description": d}}
    if schema: r[code]["content"] = {"application/json": {"schema": ref(schema)}}
    errs = list(errs)
    common = ["rate_limited", "unsupported_protocol", "storage_unavailable"]
    if auth: common += ["missing_token", "invalid_token", "device_signed_out"]
    if req: common += ["invalid_json", "invalid_request", "payload_too_large"]
    allc = []
    for c in errs + common:
        if c not in allc: allc.append(c)
    by = {}
    for c in allc: by.setdefault(str(status_of[c]), []).append(c)
    for s, cs in sorted(by.items()):
        r[s] = {"description": "codes: " + ", ".join(cs), "content": {"application/json": {"schema": ref("ApiError")}}}
    o["responses"] = r
    o["x-error-codes"] = allc
    return o
paths = {
 "/v1/info": {"get": op("What this server speaks and enforces", ok=("200","Info","protocol, formats, limits"), auth=False)},
 "/v1/accounts/params": {"post": op("Argon2id parameters for a login (made-up but stable for unknown logins)", "ParamsRequest", ("200","ParamsResponse","parameters"), auth=False, desc="Rate-limited per address with the sign-in limit.")},
 "/v1/accounts": {"post": op("Sign up: create an account and its first device", "SignupRequest", ("201","Session","the device's session"), ["weak_kdf_params","account_exists"], auth=False)},
 "/v1/sessions": {"post": op("Sign in with the login secret", "LoginRequest", ("200","Session","session"), ["invalid_credentials","device_revoked","too_many_devices"], auth=False)},
 "/v1/sessions/recover": {"post": op("Sign in with a recovery proof (then change the passphrase)", "RecoverRequest", ("200","Session","session; wrapped_key is the recovery wrap"), ["invalid_credentials","device_revoked","too_many_devices"], auth=False)},
 "/v1/account": {
   "get": op("Account: key id, KDF parameters, log head, snapshot", ok=("200","AccountInfo","the account")),
   "delete": op("Delete the account and everything stored for it", "DeleteAccount", ("204",None,"deleted"), ["invalid_credentials"])},
 "/v1/account/passphrase": {"put": op("Re-wrap the sync key under a new passphrase", "PassphraseChange", ("204",None,"changed"), ["invalid_credentials","weak_kdf_params"])},
 "/v1/account/recovery": {"put": op("Set or remove the recovery wrap", "RecoveryChange", ("204",None,"changed"), ["invalid_credentials"])},
 "/v1/devices": {"get": op("List devices (names sealed)", ok=("200","DeviceList","devices"))},
 "/v1/devices/current/name": {"put": op("Set this device's sealed name", "DeviceName", ("204",None,"set"))},
 "/v1/devices/{device_id}": {"delete": {**op("Sign out one device (`current` for this one)", ok=("204",None,"signed out"), errs=["unknown_device","invalid_request"]),
     "parameters":[{"name":"device_id","in":"path","required":True,"schema":{"type":"string","description":"32 hex digits, or `current`"}}]}},
 "/v1/devices/sign-out-all": {"post": op("Sign out every device (but this one unless include_current)", "SignOutAll", ("204",None,"signed out"))},
 "/v1/batches": {
   "post": op("Push: append this device's next batches", "PushRequest", ("200","PushResponse","stored (or already stored: duplicate)"),
      ["invalid_batch","batch_too_large","account_mismatch","device_mismatch","key_mismatch","unsupported_format","batch_id_reused","seq_conflict","seq_gap","chain_mismatch"],
      desc="Idempotent by batch id: the same bytes again are answered with the original cursor and duplicate: true."),
   "get": {**op("Pull: a consistent page of other devices' batches after a cursor", ok=("200","PullPage","a page"), errs=["cursor_ahead","cursor_compacted","invalid_request"]),
      "parameters":[{"name":"after","in":"query","schema":{"type":"integer","minimum":0,"default":0}},{"name":"limit","in":"query","schema":{"type":"integer","minimum":1,"maximum":1000,"description":"capped at limits.max_page_batches"}}]}},
 "/v1/snapshot": {
   "put": op("Store a sealed snapshot of everything up to its cursor", "SnapshotEnvelope", ("201","SnapshotStored","stored; covered batches may be compacted after the retention"),
      ["invalid_snapshot","account_mismatch","device_mismatch","key_mismatch","unsupported_format","cursor_ahead","snapshot_stale"]),
   "get": op("The latest snapshot", ok=("200","SnapshotEnvelope","the snapshot"), errs=["no_snapshot"])},
 "/v1/notifications": {"get": op("WebSocket: the account's head whenever it moves (Notice messages)", ok=("101",None,"switching to WebSocket; text frames are Notice; close 4001 signed out, 4002 account deleted, 4003 idle"), errs=["invalid_request","too_many_sockets"])},
 "/healthz": {"get": {"summary":"Liveness","responses":{"200":{"description":"ok"}}}},
 "/readyz": {"get": {"summary":"Readiness: database reachable (and, on PostgreSQL, listening for other replicas)","responses":{"200":{"description":"ready"},"503":{"description":"not ready"}}}},
 "/metrics": {"get": {"summary":"Prometheus metrics (OpenMetrics text)","responses":{"200":{"description":"metrics"}}}},
 "/openapi.json": {"get": {"summary":"This document","responses":{"200":{"description":"OpenAPI 3.0"}}}},
}
doc = {"openapi":"3.0.3","info":{"title":"ProductivityPro sync service","version":"1",
  "description":"End-to-end encrypted sync (docs/sync-protocol.md). The server stores ciphertext, wrapped keys and random ids only. Every error is {code, message, details?} with a stable code; clients branch on code. Clients may send `pp-sync-protocol: 1`; another value is refused with unsupported_protocol. Unknown routes answer not_found, wrong methods method_not_allowed."},
  "components":{"securitySchemes":{"device_token":{"type":"http","scheme":"bearer","description":"A device token (pps_…) from sign-up, sign-in or recovery."}},"schemas":schemas},
  "paths":paths}
json.dump(doc, open("/work/wt/sync/sync-server/openapi.json","w"), indent=1)
print("ok")
