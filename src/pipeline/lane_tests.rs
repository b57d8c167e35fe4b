use super::*;

/// A row of a chosen size.
#[derive(Debug)]
struct Sized(usize);
impl ApproxBytes for Sized {
    fn approx_bytes(&self) -> usize {
        self.0
    }
}

#[test]
fn a_lane_is_full_at_its_byte_bound_before_its_row_bound() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 1_000, 1_000, FullPolicy::Reject);
    for _ in 0..4 {
        sender.try_send(Sized(250)).map_err(|(_, error)| error).unwrap();
    }
    assert_eq!(sender.try_send(Sized(1)).map_err(|(_, error)| error), Err(SendError::Full(Table::Signals)));
    assert_eq!((sender.state().rows(), sender.state().bytes()), (4, 1_000));
    receiver.recv().unwrap();
    assert_eq!((sender.state().rows(), sender.state().bytes()), (3, 750));
    sender.try_send(Sized(250)).map_err(|(_, error)| error).unwrap();
}

#[test]
fn draining_stops_at_either_bound_and_releases_what_it_took() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 1_000, usize::MAX, FullPolicy::Reject);
    for _ in 0..600 {
        sender.try_send(Sized(10)).map_err(|(_, error)| error).unwrap();
    }
    let (mut rows, mut bytes) = (Vec::new(), 0);
    assert_eq!(receiver.drain_into(&mut rows, 300, &mut bytes, usize::MAX), Ok(()));
    assert_eq!((rows.len(), bytes), (300, 3_000));
    assert_eq!((sender.state().rows(), sender.state().bytes()), (300, 3_000));
    // The byte bound: 35 more bytes' worth is reached at the fourth row.
    let (mut rows, mut bytes) = (Vec::new(), 0);
    assert_eq!(receiver.drain_into(&mut rows, 1_000, &mut bytes, 35), Ok(()));
    assert_eq!((rows.len(), sender.state().rows()), (4, 296));
    let (mut rows, mut bytes) = (Vec::new(), 0);
    assert_eq!(receiver.drain_into(&mut rows, 1_000, &mut bytes, usize::MAX), Err(TryRecvError::Empty));
    assert_eq!((rows.len(), sender.state().rows(), sender.state().bytes()), (296, 0, 0));
    drop(sender);
    assert_eq!(receiver.drain_into(&mut rows, 1_000, &mut bytes, usize::MAX), Err(TryRecvError::Disconnected));
}

#[test]
fn a_run_is_queued_whole_or_handed_back_and_read_row_by_row() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 10, 1_000, FullPolicy::Reject);
    sender.try_send(Sized(1)).map_err(|(_, error)| error).unwrap();
    sender.try_send_run((2..=6).map(Sized).collect()).unwrap();
    assert_eq!((sender.state().rows(), sender.state().bytes()), (6, 21), "a run counts its rows and bytes");
    // Five more rows would pass the row bound: the run comes back whole.
    let back = sender.try_send_run((7..=11).map(Sized).collect()).unwrap_err();
    assert_eq!(back.iter().map(|row| row.0).collect::<Vec<_>>(), vec![7, 8, 9, 10, 11]);
    assert_eq!(sender.state().rows(), 6, "a refused run takes no room");
    // So would 980 bytes.
    assert!(sender.try_send_run(vec![Sized(980)]).is_err());
    sender.try_send_run(Vec::new()).unwrap();
    // Rows come out in the order they went in, a run split across reads.
    assert_eq!(receiver.recv().unwrap().0, 1);
    assert_eq!(receiver.recv().unwrap().0, 2);
    let (mut rows, mut bytes) = (Vec::new(), 0);
    assert_eq!(receiver.drain_into(&mut rows, 2, &mut bytes, usize::MAX), Ok(()));
    assert_eq!(rows.iter().map(|row| row.0).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!((sender.state().rows(), sender.state().bytes(), receiver.len()), (2, 11, 2));
    assert!(!receiver.is_empty(), "the rest of a run is still queued");
    sender.try_send(Sized(7)).map_err(|(_, error)| error).unwrap();
    let deadline = Instant::now() + Duration::from_millis(10);
    assert_eq!(receiver.recv_deadline(deadline).unwrap().0, 5);
    let (mut rows, mut bytes) = (Vec::new(), 0);
    assert_eq!(receiver.drain_into(&mut rows, 10, &mut bytes, usize::MAX), Err(TryRecvError::Empty));
    assert_eq!((rows.iter().map(|row| row.0).collect::<Vec<_>>(), bytes), (vec![6, 7], 13));
    assert!(receiver.is_empty());
    assert_eq!((sender.state().rows(), sender.state().bytes()), (0, 0));
}

#[test]
fn an_empty_lane_takes_a_run_over_its_bounds_and_closed_lanes_hand_runs_back() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 2, 100, FullPolicy::Reject);
    sender.try_send_run(vec![Sized(60), Sized(60), Sized(60)]).unwrap();
    assert!(sender.try_send(Sized(1)).is_err());
    assert_eq!(receiver.iter().take(3).map(|row| row.0).sum::<usize>(), 180);
    drop(receiver);
    assert_eq!(sender.try_send_run(vec![Sized(1)]).map_err(|back| back.len()), Err(1));
}

#[test]
fn a_blocked_sender_waits_for_rows_taken_from_a_run() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 4, usize::MAX, FullPolicy::Block);
    sender.try_send_run((0..4).map(Sized).collect()).unwrap();
    let blocked = sender.clone();
    let waiter = std::thread::spawn(move || blocked.send_blocking(Sized(9)));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(sender.state().rows(), 4, "the fifth row waits for room");
    receiver.recv().unwrap();
    waiter.join().unwrap().unwrap();
    let rest: Vec<usize> = (0..4).map(|_| receiver.recv().unwrap().0).collect();
    assert_eq!(rest, vec![1, 2, 3, 9]);
}

#[test]
fn an_empty_lane_takes_one_oversized_row() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 10, 100, FullPolicy::Reject);
    sender.try_send(Sized(5_000)).map_err(|(_, error)| error).unwrap();
    assert!(sender.try_send(Sized(1)).is_err());
    assert_eq!(receiver.recv().unwrap().0, 5_000);
    assert_eq!(sender.state().bytes(), 0);
}

#[test]
fn a_blocked_sender_wakes_when_bytes_free_up_and_fails_when_the_receiver_goes() {
    let (sender, receiver) = lane::<Sized>(Table::Signals, 1_000, 100, FullPolicy::Block);
    sender.send_blocking(Sized(100)).unwrap();
    let blocked = sender.clone();
    let waiter = std::thread::spawn(move || blocked.send_blocking(Sized(100)));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(sender.state().rows(), 1, "the second row waits for room");
    receiver.recv().unwrap();
    waiter.join().unwrap().unwrap();
    assert_eq!(sender.state().rows(), 1);
    let blocked = sender.clone();
    let waiter = std::thread::spawn(move || blocked.send_blocking(Sized(100)));
    std::thread::sleep(Duration::from_millis(50));
    drop(receiver);
    assert_eq!(waiter.join().unwrap(), Err(SendError::Closed));
}
