"""API versions, label and annotation keys of the objects Harvester uses (shared/reference/harvester-objects.md)."""

NETWORK_API = "network.harvesterhci.io/v1beta1"
DHCP_API = "network.harvesterhci.io/v1alpha1"
NAD_API = "k8s.cni.cncf.io/v1"
KUBEVIRT_API = "kubevirt.io/v1"

LABEL_CLUSTER_NETWORK = "network.harvesterhci.io/clusternetwork"
LABEL_NETWORK_TYPE = "network.harvesterhci.io/type"
LABEL_VLAN_ID = "network.harvesterhci.io/vlan-id"
LABEL_VLANCONFIG = "network.harvesterhci.io/vlanconfig"
LABEL_NODE = "network.harvesterhci.io/node"
ANNOTATION_ROUTE = "network.harvesterhci.io/route"
ANNOTATION_MATCHED_NODES = "network.harvesterhci.io/matched-nodes"
ANNOTATION_UPLINK_MTU = "network.harvesterhci.io/uplink-mtu"  # Harvester writes it on ClusterNetworks
ANNOTATION_DESCRIPTION = "field.cattle.io/description"
LABEL_VM_NAME = "harvesterhci.io/vmName"
ANNOTATION_WAIT_FOR_LEASE = "harvesterhci.io/waitForLeaseInterfaceNames"
ANNOTATION_MULTUS_NETWORKS = "k8s.v1.cni.cncf.io/networks"

TYPE_VLAN = "L2VlanNetwork"
TYPE_UNTAGGED = "UntaggedNetwork"

# Marks every object hvnet renders, so tools can tell ours from objects made by hand.
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "hvnet"


def node_cluster_network_label(cluster_network: str) -> str:
    """The label the node agent puts on its node once `<cn>` is set up there."""
    return f"network.harvesterhci.io/{cluster_network}"
