// Index options where an engine has none, or that a UNIQUE constraint cannot take.
#[derive(straddle::Model)]
#[straddle(
    table = "jobs",
    dialects(postgres, mysql),
    index(name = "jobs_a", on(owner_id), predicate = "owner_id > 0", phase = expand),
    index(name = "jobs_b", on(owner_id), using = "gin", phase = expand),
    index(name = "jobs_c", on(owner_id), include(state), phase = expand)
)]
struct Job {
    #[straddle(primary_key)]
    id: i64,
    owner_id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(64)"))]
    state: String,
}

#[derive(straddle::Model)]
#[straddle(
    table = "jobs",
    dialects(postgres),
    index(name = "jobs_d", on(owner_id), using = "bitmap", phase = expand),
    index(name = "jobs_e", on(owner_id), unique, constraint, predicate = "owner_id > 0", phase = expand)
)]
struct JobPg {
    #[straddle(primary_key)]
    id: i64,
    owner_id: i64,
}

fn main() {}
