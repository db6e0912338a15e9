// Seccomp module.
