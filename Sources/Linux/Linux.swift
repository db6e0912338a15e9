// Linux module.
