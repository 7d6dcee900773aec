#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# panic_wipe.sh KERNEL [panic|reboot]: a secret page is zero after the
# kernel panicked (default), or rebooted (the path kexec takes too).
#
# Boots KERNEL (6.1, 6.12, debug) with panic=0 and the guest paused, not
# ended, when it resets, lets panic_holder fill a secret and an ordinary
# page with known patterns and crash or reboot the kernel, then reads both
# physical pages from outside through the QEMU monitor.  The ordinary page
# must still hold its pattern (the dump works), the secret page must not.
# Prints TAP.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: panic_wipe.sh KERNEL [panic|reboot]}
event=${2:-panic}
case "$event" in
panic) done_line='end Kernel panic' ;;
reboot) done_line='reboot: Restarting system' ;;
*) echo "panic_wipe.sh: unknown event $event" >&2; exit 2 ;;
esac
work=$(mktemp -d /tmp/panic-wipe.XXXXXX)
trap 'kill "$vm" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

echo "TAP version 13"
echo "1..2"

"$top/tools/vm-run" --no-build -k "$kernel" -t 300 --monitor "$work/monitor" \
	-c "panic=0 panic_on_warn=0" -- \
	sh -c "insmod /usr/lib/smem/selftests/smem_dmtest.ko && panic_holder $event" \
	>"$work/console" 2>&1 &
vm=$!

for _ in $(seq 300); do
	grep -q "$done_line" "$work/console" && break
	kill -0 "$vm" 2>/dev/null || break
	sleep 1
done
secret=$(sed -n 's/^smem-secret-phys=\(0x[0-9a-f]*\).*/\1/p' "$work/console")
control=$(sed -n 's/^smem-control-phys=\(0x[0-9a-f]*\).*/\1/p' "$work/console")
if [ -z "$secret" ] || [ -z "$control" ] || ! grep -q "$done_line" "$work/console"; then
	sed 's/^/# /' "$work/console"
	echo "not ok 1 $event wipes secret pages # the guest did not $event as planned"
	echo "not ok 2 ordinary page survives the $event"
	exit 1
fi
# Let the guest reach its halt (panic) or pause (reboot) before reading.
sleep 1

python3 - "$work/monitor" "$secret" "$control" "$work" <<'PY'
import socket, sys
sock, secret, control, work = sys.argv[1:]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.settimeout(10)

def until_prompt():
    out = b""
    while not out.endswith(b"(qemu) "):
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    return out

until_prompt()
for cmd in (f"pmemsave {secret} 4096 \"{work}/secret.bin\"",
            f"pmemsave {control} 4096 \"{work}/control.bin\""):
    s.sendall((cmd + "\n").encode())
    until_prompt()
s.sendall(b"quit\n")
PY
wait "$vm" 2>/dev/null

rc=0
if [ -s "$work/secret.bin" ] && ! grep -q 'smem-panic-secret' "$work/secret.bin" &&
	[ -z "$(tr -d '\0' <"$work/secret.bin")" ]; then
	echo "ok 1 $event wipes secret pages"
else
	echo "not ok 1 $event wipes secret pages"
	rc=1
fi
if grep -q 'smem-panic-control' "$work/control.bin" 2>/dev/null; then
	echo "ok 2 ordinary page survives the $event"
else
	echo "not ok 2 ordinary page survives the $event"
	rc=1
fi
exit $rc
