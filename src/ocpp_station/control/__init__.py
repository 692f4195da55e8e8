"""HTTP control API (and the HMI page) for driving a station's simulated hardware."""
