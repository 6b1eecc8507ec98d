"""Parts, stock locations (warehouses and vans) and stock levels."""
