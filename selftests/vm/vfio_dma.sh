#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vfio_dma.sh KERNEL: a VFIO device owner cannot have the IOMMU map an
# smem secret (VFIO_IOMMU_MAP_DMA fails, nothing is left mapped).
#
# Boots KERNEL (6.1, 6.12) on a q35 machine with an emulated VT-d IOMMU
# and QEMU's "edu" PCI device, which has a DMA engine, and runs vfio_dma
# (selftests/vm/vfio_dma.c) in it: it binds edu to vfio-pci, shows that an
# ordinary buffer can be DMA-mapped and copied by the device, then that
# smem mappings cannot be DMA-mapped.  Prints TAP; exits non-zero when a
# test failed or the guest did not finish.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: vfio_dma.sh KERNEL}

# vfio_pci binds the device, vfio_iommu_type1 is the container's backend;
# both come from the distribution kernel.  The IOMMU must be created before
# the device it translates for.
"$top/tools/vm-run" -k "$kernel" -t 150 \
	-c "memhp_default_state=online intel_iommu=on" \
	--qemu -machine --qemu q35 \
	--qemu -device --qemu intel-iommu \
	--qemu -device --qemu edu \
	--modprobe vfio_pci --modprobe vfio_iommu_type1 \
	-- vfio_dma 2>&1 |
	sed -u -E '/^(TAP version|1\.\.|ok |not ok |# |Bail out)/!s/^/# /'
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || echo "# vfio_dma.sh: vm-run exited with status $rc"
exit "$rc"
