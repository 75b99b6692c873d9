-- The PostgreSQL original's schema, as Microsoft's workshop creates it
-- (microsoft/aitour26-WRK540-unlock-your-agents-potential-with-model-context-protocol,
-- data/database/generate_zava_postgres.py: create_database_schema and setup_store_manager_permissions).
-- Same tables, columns, indexes and row-level-security policies; the two embedding tables are left
-- out (they need pgvector, which Debian's postgresql package does not include).
-- Executed by the loader on an empty database; the policies name the super manager's UUID as a literal.

CREATE SCHEMA retail;

CREATE TABLE retail.stores (
    store_id SERIAL PRIMARY KEY,
    store_name TEXT UNIQUE NOT NULL,
    rls_user_id UUID NOT NULL,
    is_online BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE retail.customers (
    customer_id SERIAL PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT UNIQUE NOT NULL,
    phone TEXT,
    primary_store_id INTEGER,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (primary_store_id) REFERENCES retail.stores (store_id)
);

CREATE TABLE retail.categories (
    category_id SERIAL PRIMARY KEY,
    category_name TEXT NOT NULL UNIQUE
);

CREATE TABLE retail.product_types (
    type_id SERIAL PRIMARY KEY,
    category_id INTEGER NOT NULL,
    type_name TEXT NOT NULL,
    FOREIGN KEY (category_id) REFERENCES retail.categories (category_id)
);

CREATE TABLE retail.products (
    product_id SERIAL PRIMARY KEY,
    sku TEXT UNIQUE NOT NULL,
    product_name TEXT NOT NULL,
    category_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL,
    cost DECIMAL(10,2) NOT NULL,
    base_price DECIMAL(10,2) NOT NULL,
    gross_margin_percent DECIMAL(5,2) DEFAULT 33.00,
    product_description TEXT NOT NULL,
    FOREIGN KEY (category_id) REFERENCES retail.categories (category_id),
    FOREIGN KEY (type_id) REFERENCES retail.product_types (type_id)
);

CREATE TABLE retail.inventory (
    store_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    stock_level INTEGER NOT NULL,
    PRIMARY KEY (store_id, product_id),
    FOREIGN KEY (store_id) REFERENCES retail.stores (store_id),
    FOREIGN KEY (product_id) REFERENCES retail.products (product_id)
);

CREATE TABLE retail.orders (
    order_id SERIAL PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    store_id INTEGER NOT NULL,
    order_date DATE NOT NULL,
    FOREIGN KEY (customer_id) REFERENCES retail.customers (customer_id),
    FOREIGN KEY (store_id) REFERENCES retail.stores (store_id)
);

CREATE TABLE retail.order_items (
    order_item_id SERIAL PRIMARY KEY,
    order_id INTEGER NOT NULL,
    store_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    discount_percent INTEGER DEFAULT 0,
    discount_amount DECIMAL(10,2) DEFAULT 0,
    total_amount DECIMAL(10,2) NOT NULL,
    FOREIGN KEY (order_id) REFERENCES retail.orders (order_id),
    FOREIGN KEY (store_id) REFERENCES retail.stores (store_id),
    FOREIGN KEY (product_id) REFERENCES retail.products (product_id)
);
-- end of tables: the loader COPYs here, then runs the rest (indexes after the data, as a bulk load should)

CREATE INDEX idx_categories_name ON retail.categories(category_name);
CREATE INDEX idx_product_types_category ON retail.product_types(category_id);
CREATE INDEX idx_product_types_name ON retail.product_types(type_name);
CREATE INDEX idx_products_sku ON retail.products(sku);
CREATE INDEX idx_products_category ON retail.products(category_id);
CREATE INDEX idx_products_type ON retail.products(type_id);
CREATE INDEX idx_products_price ON retail.products(base_price);
CREATE INDEX idx_products_cost ON retail.products(cost);
CREATE INDEX idx_products_margin ON retail.products(gross_margin_percent);
CREATE INDEX idx_inventory_store_product ON retail.inventory(store_id, product_id);
CREATE INDEX idx_inventory_product ON retail.inventory(product_id);
CREATE INDEX idx_inventory_store ON retail.inventory(store_id);
CREATE INDEX idx_stores_name ON retail.stores(store_name);
CREATE INDEX idx_orders_customer ON retail.orders(customer_id);
CREATE INDEX idx_orders_store ON retail.orders(store_id);
CREATE INDEX idx_orders_date ON retail.orders(order_date);
CREATE INDEX idx_orders_customer_date ON retail.orders(customer_id, order_date);
CREATE INDEX idx_orders_store_date ON retail.orders(store_id, order_date);
CREATE INDEX idx_order_items_order ON retail.order_items(order_id);
CREATE INDEX idx_order_items_store ON retail.order_items(store_id);
CREATE INDEX idx_order_items_product ON retail.order_items(product_id);
CREATE INDEX idx_order_items_total ON retail.order_items(total_amount);
CREATE INDEX idx_order_items_covering ON retail.order_items(order_id, store_id, product_id, total_amount, quantity);
CREATE INDEX idx_products_covering ON retail.products(category_id, type_id, product_id, sku, cost, base_price);
CREATE INDEX idx_products_sku_covering ON retail.products(sku, product_id, product_name, cost, base_price);
CREATE INDEX idx_customers_email ON retail.customers(email);
CREATE INDEX idx_customers_primary_store ON retail.customers(primary_store_id);

ALTER TABLE retail.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.order_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.inventory ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.stores ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.product_types ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.products ENABLE ROW LEVEL SECURITY;

CREATE POLICY store_manager_orders ON retail.orders FOR ALL TO PUBLIC USING (
    current_setting('app.current_rls_user_id', true) = '00000000-0000-0000-0000-000000000000'
    OR EXISTS (SELECT 1 FROM retail.stores s WHERE s.store_id = retail.orders.store_id
               AND s.rls_user_id::text = current_setting('app.current_rls_user_id', true)));

CREATE POLICY store_manager_order_items ON retail.order_items FOR ALL TO PUBLIC USING (
    current_setting('app.current_rls_user_id', true) = '00000000-0000-0000-0000-000000000000'
    OR EXISTS (SELECT 1 FROM retail.stores s WHERE s.store_id = retail.order_items.store_id
               AND s.rls_user_id::text = current_setting('app.current_rls_user_id', true)));

CREATE POLICY store_manager_inventory ON retail.inventory FOR ALL TO PUBLIC USING (
    current_setting('app.current_rls_user_id', true) = '00000000-0000-0000-0000-000000000000'
    OR EXISTS (SELECT 1 FROM retail.stores s WHERE s.store_id = retail.inventory.store_id
               AND s.rls_user_id::text = current_setting('app.current_rls_user_id', true)));

CREATE POLICY store_manager_customers ON retail.customers FOR ALL TO PUBLIC USING (
    current_setting('app.current_rls_user_id', true) = '00000000-0000-0000-0000-000000000000'
    OR EXISTS (SELECT 1 FROM retail.stores s WHERE s.store_id = retail.customers.primary_store_id
               AND s.rls_user_id::text = current_setting('app.current_rls_user_id', true))
    OR EXISTS (SELECT 1 FROM retail.orders o JOIN retail.stores s ON o.store_id = s.store_id
               WHERE o.customer_id = retail.customers.customer_id
               AND s.rls_user_id::text = current_setting('app.current_rls_user_id', true)));

CREATE POLICY all_users_stores ON retail.stores FOR ALL TO PUBLIC USING (true);
CREATE POLICY all_users_categories ON retail.categories FOR ALL TO PUBLIC USING (true);
CREATE POLICY all_users_product_types ON retail.product_types FOR ALL TO PUBLIC USING (true);
CREATE POLICY all_users_products ON retail.products FOR ALL TO PUBLIC USING (true);

-- The original's application role: SELECT only, and row-level security applies to it (it owns nothing).
-- NOLOGIN here: the benchmark connects as the DSN's user and takes this role as a startup setting.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'store_manager') THEN
        CREATE ROLE store_manager NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA retail TO store_manager;
GRANT SELECT ON ALL TABLES IN SCHEMA retail TO store_manager;
GRANT store_manager TO CURRENT_USER;  -- so a non-superuser DSN may take the role too
