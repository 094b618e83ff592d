#!/bin/sh
# busybox udhcpc event script for lab VMs: what a guest's DHCP client does with a lease.
# HVNET_USE_ROUTES=0 keeps the server's router off (cloud-init dhcp4-overrides use-routes: false).
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr replace "$ip/$mask" dev "$interface"
    if [ "${HVNET_USE_ROUTES:-1}" = 1 ] && [ -n "$router" ]; then
      set -- $router
      ip route replace default via "$1" dev "$interface"
    fi
    ;;
esac
exit 0
