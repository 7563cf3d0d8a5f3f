"""Pools of realistic Python edge material (hover texts, queries, paths) for synthetic score_edge contexts."""

from __future__ import annotations

TARGET_HOVERS: tuple[str, ...] = (
    "def handle(event: Event) -> None\n\nmatch event:\n    case Click(x, y):\n        ...\n"
    "    case Key(code):\n        ...",
    "def describe(shape: Shape) -> str\n\nif isinstance(shape, Circle):\n    ...\n"
    "elif isinstance(shape, Square):\n    ...",
    "def render(node: Node) -> str\n\nmatch node:\n    case Text():\n        ...\n"
    "    case _:\n        assert_never(node)",
    "class Repository(Protocol[T]):\n    def get(self, key: str) -> T | None: ...\n"
    "    def put(self, key: str, value: T) -> None: ...",
    "T = TypeVar('T', bound=Comparable)",
    "K = TypeVar('K')\nV = TypeVar('V')\n\nclass Cache(Generic[K, V]):\n    \"\"\"An LRU cache.\"\"\"",
    "@overload\ndef parse(data: bytes) -> Message: ...\n@overload\ndef parse(data: str) -> Message: ...",
    "P = ParamSpec('P')\n\ndef retry(fn: Callable[P, R]) -> Callable[P, R]",
    "type Handler = Callable[[Request], Awaitable[Response]]",
    "@dataclass(frozen=True)\nclass Order:\n    id: int\n    items: list[LineItem]\n    status: OrderStatus",
    "class OrderStatus(Enum):\n    PENDING = 'pending'\n    PAID = 'paid'\n    SHIPPED = 'shipped'",
    "def load_config(path: Path) -> Config\n\nRead and validate the TOML configuration file.",
    "async def fetch(url: str, *, timeout: float = 10.0) -> Response\n\nGET a URL with retries.",
    "def validate(payload: dict[str, Any]) -> Order\n\nRaise ValidationError when a field is missing.",
    "def _normalise(name: str) -> str\n\nLower-case and strip a header name.",
    "class Session:\n    \"\"\"A database session bound to one connection.\"\"\"\n    def commit(self) -> None: ...",
    "def send(message: Message, queue: Queue[Message]) -> None\n\nBlock until the queue accepts the message.",
    "def poll(queue: Queue[Message]) -> Message | None\n\nReturn the next message without blocking.",
    "def serialize(order: Order) -> bytes\n\nEncode an order as JSON.",
    "def total(items: Iterable[LineItem]) -> Decimal",
    "logger: logging.Logger",
    "def __init__(self, host: str, port: int = 5432) -> None",
    "class PaymentError(Exception):\n    \"\"\"Raised when the payment provider refuses a charge.\"\"\"",
    "def apply_discount(order: Order, code: str) -> Order\n\nif isinstance(code, PercentCode):\n    ...\n"
    "elif isinstance(code, FixedCode):\n    ...",
)

SOURCE_HOVERS: tuple[str, ...] = (
    "class Event:\n    \"\"\"Base class of UI events.\"\"\"",
    "class Shape(ABC):\n    @abstractmethod\n    def area(self) -> float: ...",
    "Node = Text | Element | Comment",
    "@dataclass(frozen=True)\nclass Order:\n    id: int\n    items: list[LineItem]\n    status: OrderStatus",
    "class OrderStatus(Enum):\n    PENDING = 'pending'\n    PAID = 'paid'",
    "class Message(TypedDict):\n    id: str\n    body: bytes",
    "class Config(BaseModel):\n    database_url: str\n    debug: bool = False",
    "def checkout(cart: Cart, payment: PaymentMethod) -> Order",
    "class Queue(Generic[T]):\n    \"\"\"A bounded FIFO queue.\"\"\"",
    "class Request:\n    method: str\n    path: str\n    headers: Headers",
)

QUERIES: tuple[str, ...] = (
    "What breaks if I add a variant to OrderStatus?",
    "Where is the order total computed?",
    "Who calls validate and with what data?",
    "How are events dispatched to handlers?",
    "What changes if Shape gets a new subclass?",
    "Where is the configuration defined and validated?",
    "Which code uses the message queue without blocking?",
    "How does the cache stay generic over key and value types?",
    "What is the impact of renaming Order.items?",
    "How are payment failures reported to the user?",
    "Which functions depend on the Repository protocol?",
    "How is an order serialized before it is sent?",
    "Where are retries configured for HTTP requests?",
    "What typing constraints does the comparable TypeVar impose?",
    "How do overloads of parse choose the input type?",
    "Which callers must change if Message gains a field?",
    "How is the database session committed?",
    "What happens when a discount code is applied?",
)

PATHS: tuple[str, ...] = (
    "shop/orders.py",
    "shop/models.py",
    "shop/payments/provider.py",
    "shop/_internal/pricing.py",
    "shop/api/handlers.py",
    "shop/api/__init__.py",
    "ui/events.py",
    "ui/render.py",
    "geometry/shapes.py",
    "core/cache.py",
    "core/typing.py",
    "core/_compat.py",
    "messaging/queue.py",
    "messaging/codec.py",
    "config/loader.py",
    "db/session.py",
    "http/client.py",
    "tests/test_orders.py",
)
