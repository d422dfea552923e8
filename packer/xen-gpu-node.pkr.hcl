# xen-gpu node image: Debian 12 + Xen + dom0 set up as the GPU driver domain + gpu-proxy + containerd with
# the xen-gpu runtime handler + the zone kernel. packer/build.sh prepares the inputs and runs this
# (see packer/README.md); `packer validate` runs in `make test`.
#
# No installer ISO: build.sh makes a base disk with debootstrap (no bootloader yet), Packer's qemu builder
# boots it with that disk's own kernel given to QEMU directly, and provisions it over SSH with the same
# provision.sh a user runs on an existing node; image-prepare.sh installs GRUB so the result boots alone.

variable "base_disk" {
  type        = string
  description = "qcow2 made by packer/base-disk.sh (Debian 12 minbase + kernel + openssh, no bootloader)"
}
variable "boot_kernel" {
  type        = string
  description = "the base disk's /boot/vmlinuz-*, given to QEMU for the provisioning boot"
}
variable "boot_initrd" {
  type        = string
  description = "the base disk's /boot/initrd.img-*"
}
variable "ssh_key" {
  type        = string
  description = "private key whose public half build.sh put in the base disk's /root/.ssh (removed at the end)"
}
variable "stage_dir" {
  type        = string
  description = "directory named xen-gpu, uploaded as /tmp/xen-gpu: packer/ (provision.sh, files/), bin/, kernel/"
}
variable "output_dir" {
  type    = string
  default = "build/image/out"
}
variable "accelerator" {
  type        = string
  default     = "tcg"
  description = "QEMU accelerator: tcg works everywhere; kvm where /dev/kvm is real"
}
variable "memory" {
  type    = number
  default = 2048
}
variable "cpus" {
  type    = number
  default = 2
}
variable "dom0_mem" {
  type        = string
  default     = "4096M"
  description = "provision.sh --dom0-mem"
}
variable "dom0_vcpus" {
  type    = number
  default = 4
}
variable "gpu_domain" {
  type        = string
  default     = "dom0"
  description = "provision.sh --gpu-domain: dom0 (dom0 drives the GPU) or domU (GPUs hidden for a driver domain)"
}
variable "iommu" {
  type    = string
  default = "1"
}
variable "nvidia" {
  type        = string
  default     = "auto"
  description = "provision.sh --nvidia: auto installs Debian's nvidia-driver only when an NVIDIA GPU is present"
}
variable "serial_console" {
  type        = bool
  default     = true
  description = "Xen and dom0 consoles on the first serial port (what the QEMU boot test reads)"
}

source "qemu" "node" {
  iso_url          = var.base_disk
  iso_checksum     = "none"
  disk_image       = true
  use_backing_file = false
  skip_resize_disk = true
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  accelerator      = var.accelerator
  memory           = var.memory
  cpus             = var.cpus
  headless         = true
  output_directory = var.output_dir
  vm_name          = "xen-gpu-node.qcow2"
  qemuargs = [
    ["-cpu", "max"],
    ["-kernel", var.boot_kernel],
    ["-initrd", var.boot_initrd],
    ["-append", "root=/dev/vda1 rw console=ttyS0 net.ifnames=0"],
    ["-serial", "file:${var.output_dir}-provision-console.log"],
  ]
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.ssh_key
  ssh_timeout          = "30m"
  shutdown_command     = "systemctl poweroff"
  shutdown_timeout     = "10m"
}

build {
  sources = ["source.qemu.node"]

  provisioner "file" {
    source      = var.stage_dir
    destination = "/tmp"
  }

  # Bootloader first (the base disk has none), then the node provisioning proper.
  provisioner "shell" {
    inline = ["bash /tmp/xen-gpu/packer/image-prepare.sh /dev/vda ${var.serial_console ? "--serial" : ""}"]
  }

  provisioner "shell" {
    inline = [
      "bash /tmp/xen-gpu/packer/provision.sh --bin-dir /tmp/xen-gpu/bin --zone-kernel /tmp/xen-gpu/kernel/vmlinuz --dom0-mem ${var.dom0_mem} --dom0-vcpus ${var.dom0_vcpus} --gpu-domain ${var.gpu_domain} --iommu ${var.iommu} --nvidia ${var.nvidia} ${var.serial_console ? "--serial-console" : ""}",
    ]
  }

  # Leave nothing of the build behind: the build key, the staged tree, apt's caches.
  provisioner "shell" {
    inline = [
      "rm -rf /tmp/xen-gpu /root/.ssh/authorized_keys",
      "apt-get clean",
      "rm -f /etc/ssh/ssh_host_*; systemctl enable xen-gpu-ssh-keygen.service",
      "fstrim -av || true",
    ]
  }
}
