//! Where a run reads and writes: the process's standard streams, or buffers in tests.

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// The standard streams of a run. Data goes to stdout; messages, progress and `--verbose` logs to stderr.
///
/// ```
/// use dynamics_cli::Io;
///
/// let (mut io, captured) = Io::captured("");
/// io.println("data");
/// io.eprintln("message");
/// assert_eq!(captured.stdout(), "data\n");
/// assert_eq!(captured.stderr(), "message\n");
/// ```
pub struct Io {
    stdout: Box<dyn Write + Send>,
    stderr: SharedWriter,
    stdin: Option<Box<dyn Read + Send>>,
    stderr_is_terminal: bool,
    process: bool,
}

/// What a captured run wrote.
#[derive(Clone, Debug)]
pub struct Captured {
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Io {
    /// The process's standard streams.
    pub fn std() -> Self {
        Self {
            stdout: Box::new(io::stdout()),
            stderr: SharedWriter::new(Box::new(io::stderr())),
            stdin: Some(Box::new(io::stdin())),
            stderr_is_terminal: io::stderr().is_terminal(),
            process: true,
        }
    }

    /// Buffers, for tests: `stdin` is what the run reads; stderr is never a terminal.
    pub fn captured(stdin: impl Into<Vec<u8>>) -> (Self, Captured) {
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let io = Self {
            stdout: Box::new(Buffer(Arc::clone(&stdout))),
            stderr: SharedWriter::new(Box::new(Buffer(Arc::clone(&stderr)))),
            stdin: Some(Box::new(io::Cursor::new(stdin.into()))),
            stderr_is_terminal: false,
            process: false,
        };
        (io, Captured { stdout, stderr })
    }

    /// Writes a line to stdout (errors writing are ignored: a closed pipe ends the output, not the run).
    pub fn println(&mut self, line: impl fmt::Display) {
        let _ = writeln!(self.stdout, "{line}");
    }

    /// Writes a line to stderr.
    pub fn eprintln(&mut self, line: impl fmt::Display) {
        let _ = writeln!(self.stderr, "{line}");
    }

    /// Stdout, for data.
    pub fn stdout(&mut self) -> &mut (dyn Write + Send) {
        &mut *self.stdout
    }

    /// Stderr, for messages.
    pub fn stderr(&mut self) -> &mut (dyn Write + Send) {
        &mut self.stderr
    }

    /// True when stderr is a terminal (progress bars are drawn only then).
    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_is_terminal
    }

    /// Reads all of stdin; it can be read once.
    pub(crate) fn read_stdin(&mut self, what: &str) -> Result<Vec<u8>, crate::error::Error> {
        let Some(mut stdin) = self.stdin.take() else {
            return Err(crate::error::Error::usage(format!(
                "standard input was already read; {what} cannot also come from it"
            )));
        };
        let mut bytes = Vec::new();
        stdin
            .read_to_end(&mut bytes)
            .map_err(|e| crate::error::Error::io(format!("reading {what} from standard input"), e))?;
        Ok(bytes)
    }

    pub(crate) fn shared_stderr(&self) -> SharedWriter {
        self.stderr.clone()
    }

    pub(crate) fn is_process(&self) -> bool {
        self.process
    }
}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("stderr_is_terminal", &self.stderr_is_terminal).finish_non_exhaustive()
    }
}

struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer shared between the run and its log subscriber.
#[derive(Clone)]
pub(crate) struct SharedWriter(Arc<Mutex<Box<dyn Write + Send>>>);

impl SharedWriter {
    fn new(inner: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(inner)))
    }
}

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SharedWriter {
    type Writer = SharedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
