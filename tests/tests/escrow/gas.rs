//! The escrow's gas table (`shiftpay_tests::gas::escrow`, part of `contracts/GAS.md`) builds, has
//! every operation the issue asks for, and every figure fits a Rootstock block.

use shiftpay_tests::{evm::TX_GAS_LIMIT, gas::escrow};

#[test]
fn gas_table_covers_every_operation_and_fits_a_rootstock_block() {
    let table = escrow::markdown();
    println!("{table}");
    for operation in [
        "create, 1 milestone",
        "create, 5 milestones",
        "create, 50 milestones",
        "create + fund at creation, 50 milestones",
        "fund one milestone",
        "submit",
        "approve",
        "release after the review window",
        "resolve: arbiter ruling",
        "cancel: notice to the worker",
        "finalize cancel after the notice",
    ] {
        assert!(table.contains(operation), "missing row {operation:?}");
    }
    let rows =
        table.lines().filter(|line| line.starts_with("| ") && !line.starts_with("| Operation"));
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        for cell in &cells[2..4] {
            let gas: u64 =
                cell.replace(',', "").parse().unwrap_or_else(|_| panic!("gas figure in {row:?}"));
            assert!(gas > 21_000 && gas < TX_GAS_LIMIT, "{row}");
        }
    }
}
