// Cgroup2 module.
