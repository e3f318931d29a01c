// Hand-written SQL steps: each refusal on the string it is about (or on the attribute),
// all reported together.
#[derive(straddle::Model)]
#[straddle(
    table = "users",
    dialects(postgres),
    sql(name = "no_down", up = "CREATE EXTENSION IF NOT EXISTS citext", phase = expand),
    sql(name = "typo", up = "CREATE EXTENSON citext", down = "DROP EXTENSION citext", phase = expand),
    sql(name = "own_table", up = "ALTER TABLE users ADD COLUMN age INT", down = "ALTER TABLE users DROP COLUMN age", phase = expand),
    sql(name = "blocking", up = "CREATE INDEX accounts_a ON accounts (a)", down = "DROP INDEX accounts_a", phase = expand),
    sql(name = "concurrent", up = "CREATE INDEX CONCURRENTLY accounts_b ON accounts (b)", down = "DROP INDEX CONCURRENTLY accounts_b", phase = expand),
    sql(name = "two", no_transaction, up = "SELECT 1; SELECT 2", down = "SELECT 3", phase = expand),
    sql(name = "everything", up = "UPDATE accounts SET b = 0", down = "BEGIN", phase = expand),
    sql(name = "email", up = "SELECT 1", donw = "SELECT 2", phase = expand)
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
}

// A model compiled for two engines gives each its SQL, and `up` and `down` agree on
// whether there is anything to do.
#[derive(straddle::Model)]
#[straddle(
    table = "notes",
    dialects(postgres, mysql),
    sql(name = "ext", up(postgres = "CREATE EXTENSION IF NOT EXISTS citext"), down = "DROP EXTENSION IF EXISTS citext", phase = expand),
    sql(name = "half", up(postgres = "CREATE TABLE a (id INT PRIMARY KEY)", mysql = ""), down(postgres = "DROP TABLE a", mysql = "DROP TABLE a"), phase = expand),
    sql(name = "ddl", up(postgres = "SELECT 1", mysql = "CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY)"), down(postgres = "SELECT 1", mysql = "DROP TABLE b; DROP TABLE a"), phase = expand)
)]
struct Note {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
