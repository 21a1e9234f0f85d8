# SPDX-License-Identifier: GPL-2.0
"""Test harness of virtio-numa: boot our kernel in our QEMU and drive it."""
