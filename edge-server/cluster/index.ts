/** One edge node on all cores: node:cluster workers behind one port. */
export { ClusterWorker, clusterWorkerInfo, runClusterPrimary, type ClusterPrimaryOptions, type ClusterServer } from './EdgeCluster.js';
