//! Type changes that follow the shipped history (locks/retype.lock): `score` starts its
//! change (first release, expand), `points` moves one phase on; and what the derive
//! records of them. (`up`/`down` change the values' meaning here, which SQLite — INTEGER
//! for both types — would never apply: the model leaves it out.)
use straddle::{Dialect, Model, Phase};

#[derive(straddle::Model)]
#[straddle(table = "users", dialects(postgres, mysql), lock = "../../../../tests/ui/locks/retype.lock")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(retyped(from = "i32", up = "score * 100", down = "score / 100", phase = expand))]
    pub score: i64,
    #[straddle(retyped(from = "i32", phase = backfill))]
    pub points: Option<i64>,
}

fn main() {
    let user = User::definition();
    let Some(straddle::ir::Change::Retype(r)) = &user.column("score").unwrap().change else { panic!() };
    assert_eq!(r.from.rust, "i32");
    assert_eq!(r.from.sql(Dialect::Postgres), "INTEGER");
    assert_eq!(r.up.text, "score * 100");
    let Some(straddle::ir::Change::Retype(p)) = &user.column("points").unwrap().change else { panic!() };
    assert_eq!(p.down.render(Dialect::Postgres, straddle::ir::expr::Qualifier::None), "(CAST(\"points\" AS INTEGER))");
    assert_eq!(User::plan()[1].declared_phase, Phase::Backfill);
}
