"""Store operations: products, stock, customers, orders and product search, each scoped to the caller."""
