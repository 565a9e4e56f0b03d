"""Lab backends: metrics measured on the lab world, built on the lab perceptor."""
