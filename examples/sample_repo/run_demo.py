"""Build a cart, check it out against fake and card gateways, and print a report."""

import shop


def main() -> None:
    """Run the demo: one successful checkout, one declined card payment, then a report."""
    orders: shop.Repository[shop.Order] = shop.Repository()
    alice = shop.Customer(1, "Alice", "alice@example.com")
    cart = shop.Cart(alice, discount=shop.DiscountCode("WELCOME10", 10, minimum=shop.Money(20_00)))
    cart.add("book-001", shop.Money(24_99), quantity=2)
    cart.add("mug-042", shop.Money(8_50))
    order = shop.checkout(cart, shop.FakeGateway(), orders)
    print(f"placed order #{order.id} ({order.status.value})")

    bob = shop.Customer(2, "Bob", "bob@example.com", country="US")
    big_cart = shop.Cart(bob)
    big_cart.add("laptop-7", shop.Money(1_299_00))
    try:
        shop.checkout(big_cart, shop.CardGateway(limit=shop.Money(500_00)), orders)
    except shop.PaymentError as error:
        print(f"order #{error.order.id} not paid: {error}")

    print(shop.summarise_orders(orders))


if __name__ == "__main__":
    main()
