import CShim
import Glibc
import Linux
import Runtime
import SupervisorAPI

/// A service with a terminal (-t): the supervisor holds each run's pty master, pumps it into the
/// log, applies window sizes (`resize`), and with -i copies stdin.fifo, which the attached ctr
/// feeds, into it. The size and the input outlive a run, so a restarted container gets both.
extension Supervisor {
    /// Called once a run has started: its terminal gets the last size asked for, and the input.
    func attachTerminal(_ started: ContainerRun) {
        guard let master = started.terminal else { return }
        if let size = windowSize { _ = berth_set_window_size(master.rawValue, size.rows, size.columns) }
        guard definition.hasStdin else { return }
        if terminalInput == nil {
            // ctr opened the fifo before it forked us, so there is a writer and this finds what
            // it wrote so far; once ctr closes it, the copy ends.
            do {
                let source = try FileDescriptor.open(service.stdinFifoPath, O_RDONLY | O_NONBLOCK)
                terminalInput = InputCopy(source: source, target: master, typesEndOfFile: false)
            } catch {
                SupervisorLog.warn("stdin: \(error)")
            }
        }
        terminalInput?.target = master
    }

    /// The input's poll entry while a run's terminal can take it.
    var terminalInputEntry: pollfd? {
        active?.container.terminal == nil ? nil : terminalInput?.entry
    }

    func terminalInputReady() {
        terminalInput?.step()
        if let input = terminalInput, input.finished {
            input.source.close()
            terminalInput = nil
        }
    }

    /// `resize`: the current run's window (TIOCSWINSZ on the master sends SIGWINCH to the
    /// terminal's foreground process group), and the size for the runs to come.
    func resizeTerminal(rows: UInt16, columns: UInt16) -> ControlResponse {
        guard definition.hasTerminal else { return .failed("service \"\(definition.name)\" has no terminal (it was not started with -t)") }
        windowSize = (rows, columns)
        if let master = active?.container.terminal {
            do { try sys("ioctl", "TIOCSWINSZ") { berth_set_window_size(master.rawValue, rows, columns) } } catch {
                return .failed(error.description)
            }
        }
        return .done
    }
}
