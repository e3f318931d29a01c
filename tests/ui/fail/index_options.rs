// Index options where an engine has none, or that a UNIQUE constraint cannot take.
#[derive(straddle::Model)]
#[straddle(
    table = "jobs",
    dialects(postgres, mysql),
    index(name = "jobs_a", on(owner_id), predicate = "owner_id > 0", phase = expand),
    index(name = "jobs_b", on(owner_id), using = "gin", phase = expand),
    index(name = "jobs_c", on(owner_id), include(state), phase = expand),
    index(name = "jobs_f", on(state), opclass(state = "text_pattern_ops"), with = "fillfactor = 70", phase = expand)
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
    index(name = "jobs_e", on(owner_id), unique, constraint, predicate = "owner_id > 0", phase = expand),
    // Operator classes: per indexed column, by name only; none on a UNIQUE constraint.
    index(name = "jobs_g", on(state), opclass(owner_id = "int8_ops", state = "Text_Pattern_Ops; DROP"), phase = expand),
    index(name = "jobs_h", on(state), unique, constraint, opclass(state = "text_pattern_ops"), phase = expand),
    // Storage parameters: those of the method, with values of their kind.
    index(name = "jobs_i", on(owner_id), with = "fillfactor = 5, pages_per_range = 4, buffering", phase = expand),
    index(name = "jobs_j", on(owner_id), using = "brin", with = "pages_per_range = 0, autosummarize = maybe", phase = expand)
)]
struct JobPg {
    #[straddle(primary_key)]
    id: i64,
    owner_id: i64,
    state: String,
}

fn main() {}
