"""Traffic shaping: Intune's throttling limits and seeded fault and latency injection.

Pure decisions only: what a request draws on and whether it may pass (throttling.py), which fault or
delay a rule gives it (faults.py). Counters and plans are kept by storage/; web/gate.py applies the
decisions to requests, before any handler runs.
"""
