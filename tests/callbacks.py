"""Daraja STK callback bodies as Daraja posts them, for tests that post or store callbacks."""


def stk_success_body(
    checkout_request_id: str,
    *,
    amount: int = 4000,
    receipt: str = "SAM1CD2EF3",
    phone: int | str = 254712345678,
    merchant_request_id: str = "29115-34620561-1",
) -> dict:
    """A success the way Daraja sends it: numbers for Amount, TransactionDate and PhoneNumber,
    a Balance item without a Value."""
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": merchant_request_id,
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20270110093015},
                        {"Name": "PhoneNumber", "Value": int(phone)},
                    ]
                },
            }
        }
    }
